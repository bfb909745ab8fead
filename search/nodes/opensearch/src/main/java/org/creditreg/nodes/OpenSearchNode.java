package org.creditreg.nodes;

import java.util.List;
import java.util.Map;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.core.common.transport.TransportAddress;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.transport.Netty4Plugin;

/** One OpenSearch 2.19 node on 127.0.0.1: see {@link NodeLauncher} for its arguments. */
public final class OpenSearchNode {

    /** A node with plugins from the classpath: the server jar does not load them itself. */
    private static final class ClasspathNode extends Node {
        ClasspathNode(Settings settings) {
            super(
                InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "creditreg"),
                List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, ChineseAnalysis.class),
                false
            );
        }
    }

    private OpenSearchNode() {}

    public static void main(String[] args) throws Exception {
        NodeLauncher.run("OpenSearchNode", args, settings -> {
            Node node = new ClasspathNode(Settings.builder().loadFromMap(settings).build());
            node.start();
            TransportAddress address = node.injector()
                .getInstance(HttpServerTransport.class)
                .boundAddress()
                .publishAddress();
            return new NodeLauncher.Started("http://" + address.getAddress() + ":" + address.getPort(), node::close);
        });
    }
}
