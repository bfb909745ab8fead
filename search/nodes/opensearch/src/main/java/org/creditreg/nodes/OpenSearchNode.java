package org.creditreg.nodes;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.core.common.transport.TransportAddress;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.transport.Netty4Plugin;

/**
 * One OpenSearch node on 127.0.0.1, security off, for tests and benchmarks.
 *
 * <p>Usage: {@code OpenSearchNode --data DIR [--port N]}. Port 0 (the default) lets the
 * system pick a free one. Prints the node's URL on one line of standard output once the
 * node serves HTTP, then runs until SIGTERM or until standard input closes, so that a test
 * run that dies never leaves a node behind. Its logs go to standard error.
 */
public final class OpenSearchNode {

    /** A node with plugins from the classpath: the server jar does not load them itself. */
    private static final class ClasspathNode extends Node {
        ClasspathNode(Settings settings) {
            super(
                InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "creditreg"),
                List.of(Netty4Plugin.class, CommonAnalysisPlugin.class),
                false
            );
        }
    }

    private OpenSearchNode() {}

    public static void main(String[] args) throws Exception {
        Path data = null;
        String port = "0";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--data" -> data = Path.of(args[++i]).toAbsolutePath();
                case "--port" -> port = args[++i];
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (data == null) {
            usage("--data DIR is required");
        }
        Files.createDirectories(data);
        Settings settings = Settings.builder()
            .put("cluster.name", "creditreg-test")
            .put("node.name", "creditreg-node")
            .put("path.home", data.toString())
            .put("path.data", data.resolve("data").toString())
            .put("path.logs", data.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", "0")
            .put("discovery.type", "single-node")
            // A test machine's disk may be nearly full; the watermarks would then refuse
            // to allocate shards and every index would stay red.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", false)
            .build();

        Node node = new ClasspathNode(settings);
        CountDownLatch stopped = new CountDownLatch(1);
        Runnable stop = () -> {
            try {
                node.close();
            } catch (IOException e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        };
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "node-stop"));
        node.start();

        TransportAddress address = node.injector()
            .getInstance(HttpServerTransport.class)
            .boundAddress()
            .publishAddress();
        System.out.println("http://" + address.getAddress() + ":" + address.getPort());
        System.out.flush();

        // The parent holds our standard input open for as long as it wants the node.
        Thread watcher = new Thread(() -> {
            drain(System.in);
            System.exit(0);
        }, "stdin-watcher");
        watcher.setDaemon(true);
        watcher.start();
        stopped.await();
    }

    private static void drain(InputStream in) {
        byte[] buffer = new byte[256];
        try {
            while (in.read(buffer) >= 0) {
                // Nothing is expected on standard input; only its end matters.
            }
        } catch (IOException e) {
            // A broken pipe means the same as end of input: the parent is gone.
        }
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: OpenSearchNode --data DIR [--port N]");
        System.exit(2);
    }
}
