package org.creditreg.nodes;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * Runs one search engine node on 127.0.0.1 for tests and benchmarks, security off.
 *
 * <p>Arguments: {@code --data DIR [--port N]}. Port 0 (the default) lets the system pick a
 * free one. Prints the node's URL on one line of standard output once the node serves
 * HTTP, then runs until SIGTERM or until standard input closes, so that a test run that
 * dies never leaves a node behind. Logs go to standard error.
 */
public final class NodeLauncher {

    /** A started node: where it serves, and how to stop it. */
    public record Started(String url, Stopper stopper) {}

    @FunctionalInterface
    public interface Stopper {
        void stop() throws IOException;
    }

    @FunctionalInterface
    public interface Starter {
        /** Start the node with these settings (the same keys for every engine). */
        Started start(Map<String, String> settings) throws Exception;
    }

    private NodeLauncher() {}

    public static void run(String name, String[] args, Starter starter) throws Exception {
        // Named, not found by the default name: Elasticsearch's test framework, on the same
        // classpath, brings a log4j2-test.properties that would win and log to standard output.
        System.setProperty("log4j2.configurationFile", "node-log4j2.properties");
        Path data = null;
        String port = "0";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--data" -> data = Path.of(args[++i]).toAbsolutePath();
                case "--port" -> port = args[++i];
                default -> usage(name, "unknown argument " + args[i]);
            }
        }
        if (data == null) {
            usage(name, "--data DIR is required");
        }
        Files.createDirectories(data);

        Started node = starter.start(settings(data, port));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.stopper().stop();
            } catch (IOException e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "node-stop"));
        System.out.println(node.url());
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

    private static Map<String, String> settings(Path data, String port) {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("cluster.name", "creditreg-test");
        settings.put("node.name", "creditreg-node");
        settings.put("path.home", data.toString());
        settings.put("path.data", data.resolve("data").toString());
        settings.put("path.logs", data.resolve("logs").toString());
        settings.put("network.host", "127.0.0.1");
        settings.put("http.port", port);
        settings.put("transport.port", "0");
        settings.put("discovery.type", "single-node");
        // A test machine's disk may be nearly full; the watermarks would then refuse to
        // allocate shards and every index would stay red.
        settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
        settings.put("action.auto_create_index", "false");
        return settings;
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

    private static void usage(String name, String problem) {
        System.err.println(problem);
        System.err.println("usage: " + name + " --data DIR [--port N]");
        System.exit(2);
    }
}
