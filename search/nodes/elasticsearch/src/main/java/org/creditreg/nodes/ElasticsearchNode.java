package org.creditreg.nodes;

import java.util.List;
import java.util.Map;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.transport.TransportAddress;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.ClasspathPluginsNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/** One Elasticsearch 8 node on 127.0.0.1: see {@link NodeLauncher} for its arguments. */
public final class ElasticsearchNode {

    private ElasticsearchNode() {}

    public static void main(String[] args) throws Exception {
        NodeLauncher.run("ElasticsearchNode", args, map -> {
            Settings settings = Settings.builder().loadFromMap(map).build();
            // The server's logging bridge must be in place before any of its classes asks for a
            // logger; log4j2.properties then sends the logs to standard error.
            LogConfigurator.configureESLogging();
            Node node = new ClasspathPluginsNode(
                InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "creditreg"),
                List.of(Netty4Plugin.class, RegistryEssentials.class)
            );
            node.start();
            TransportAddress address = node.injector()
                .getInstance(HttpServerTransport.class)
                .boundAddress()
                .publishAddress();
            return new NodeLauncher.Started("http://" + address.getAddress() + ":" + address.getPort(), node::close);
        });
    }
}
