package org.creditreg.nodes;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.text.ParseException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;

import com.ibm.icu.text.Transliterator;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.charfilter.MappingCharFilter;
import org.apache.lucene.analysis.charfilter.NormalizeCharMap;
import org.apache.lucene.analysis.core.FlattenGraphFilter;
import org.apache.lucene.analysis.synonym.SolrSynonymParser;
import org.apache.lucene.analysis.synonym.SynonymGraphFilter;
import org.apache.lucene.analysis.synonym.SynonymMap;
import org.apache.lucene.analysis.cjk.CJKBigramFilter;
import org.apache.lucene.analysis.cjk.CJKWidthFilter;
import org.apache.lucene.analysis.cn.smart.HMMChineseTokenizer;
import org.apache.lucene.analysis.core.WhitespaceTokenizer;
import org.apache.lucene.analysis.icu.ICUFoldingFilter;
import org.apache.lucene.analysis.icu.ICUNormalizer2Filter;
import org.apache.lucene.analysis.icu.ICUTransformFilter;
import org.apache.lucene.analysis.icu.segmentation.ICUTokenizer;
import org.apache.lucene.analysis.miscellaneous.TrimFilter;
import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterName;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.analysis.AbstractCharFilterFactory;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.CharFilterFactory;
import org.elasticsearch.index.analysis.PreConfiguredTokenFilter;
import org.elasticsearch.index.analysis.PreConfiguredTokenizer;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.lucene.analysis.miscellaneous.DisableGraphAttribute;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

/**
 * What the registry needs of Elasticsearch's unpublished modules, rebuilt on Lucene.
 *
 * <p>From analysis-common: the whitespace tokenizer, the trim, cjk_width, cjk_bigram and
 * synonym filters and the mapping character filter of the registry's mapping, with the
 * settings the registry gives them (inline rules only, no rule files). From rest-root: {@code GET /}, which clients call to
 * learn the server's product and version. And, under the names of Elastic's ICU and smartcn
 * plugins (not published either): icu_tokenizer, icu_folding, icu_normalizer,
 * icu_transform and smartcn_tokenizer.
 */
public final class RegistryEssentials extends Plugin implements AnalysisPlugin, ActionPlugin {

    private final Settings settings;

    public RegistryEssentials(Settings settings) {
        this.settings = settings;
    }

    @Override
    public List<PreConfiguredTokenizer> getPreConfiguredTokenizers() {
        return List.of(
            PreConfiguredTokenizer.singleton("whitespace", WhitespaceTokenizer::new),
            PreConfiguredTokenizer.singleton("icu_tokenizer", ICUTokenizer::new),
            PreConfiguredTokenizer.singleton("smartcn_tokenizer", HMMChineseTokenizer::new)
        );
    }

    @Override
    public List<PreConfiguredTokenFilter> getPreConfiguredTokenFilters() {
        // Both also serve keyword normalizers, hence usable for multi-term queries.
        return List.of(
            PreConfiguredTokenFilter.singleton("trim", true, TrimFilter::new),
            PreConfiguredTokenFilter.singleton("cjk_width", true, CJKWidthFilter::new),
            PreConfiguredTokenFilter.singleton("icu_folding", true, ICUFoldingFilter::new),
            PreConfiguredTokenFilter.singleton("icu_normalizer", true, ICUNormalizer2Filter::new)
        );
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of("cjk_bigram", (indexSettings, environment, name, filterSettings) -> {
            boolean unigrams = filterSettings.getAsBoolean("output_unigrams", false);
            return new AbstractTokenFilterFactory(name, filterSettings) {
                @Override
                public TokenStream create(TokenStream input) {
                    int scripts = CJKBigramFilter.HAN | CJKBigramFilter.HIRAGANA
                        | CJKBigramFilter.KATAKANA | CJKBigramFilter.HANGUL;
                    CJKBigramFilter filter = new CJKBigramFilter(input, scripts, unigrams);
                    if (unigrams) {
                        // As analysis-common does: bigrams stacked on unigrams are not a
                        // token graph for query parsing (a match query would otherwise
                        // require whole paths through it, not a share of the terms).
                        filter.addAttribute(DisableGraphAttribute.class);
                    }
                    return filter;
                }
            };
        }, "synonym", (indexSettings, environment, name, filterSettings) -> {
            // {"type": "synonym", "synonyms": ["co, company", ...]}: Solr-format rules, expanded.
            SynonymMap synonyms = parseSynonyms(filterSettings.getAsList("synonyms"));
            return new AbstractTokenFilterFactory(name, filterSettings) {
                @Override
                public TokenStream create(TokenStream input) {
                    return new FlattenGraphFilter(new SynonymGraphFilter(input, synonyms, true));
                }
            };
        }, "icu_transform", (indexSettings, environment, name, filterSettings) -> {
            // {"type": "icu_transform", "id": "Traditional-Simplified"} and the like.
            Transliterator transform = Transliterator.getInstance(filterSettings.get("id", "Null"));
            return new AbstractTokenFilterFactory(name, filterSettings) {
                @Override
                public TokenStream create(TokenStream input) {
                    return new ICUTransformFilter(input, transform);
                }
            };
        });
    }

    @Override
    public Map<String, AnalysisProvider<CharFilterFactory>> getCharFilters() {
        // {"type": "mapping", "mappings": ["有限责任公司 => 有限公司", ...]}
        return Map.of("mapping", (indexSettings, environment, name, filterSettings) -> {
            NormalizeCharMap.Builder builder = new NormalizeCharMap.Builder();
            for (String rule : filterSettings.getAsList("mappings")) {
                String[] sides = rule.split("=>", 2);
                if (sides.length != 2) {
                    throw new IllegalArgumentException("not a mapping rule: " + rule);
                }
                builder.add(sides[0].trim(), sides[1].trim());
            }
            NormalizeCharMap map = builder.build();
            return new AbstractCharFilterFactory(name) {
                @Override
                public Reader create(Reader reader) {
                    return new MappingCharFilter(map, reader);
                }
            };
        });
    }

    private static SynonymMap parseSynonyms(List<String> rules) {
        Analyzer words = new Analyzer() {
            @Override
            protected TokenStreamComponents createComponents(String field) {
                Tokenizer tokenizer = new WhitespaceTokenizer();
                return new TokenStreamComponents(tokenizer, new LowerCaseFilter(tokenizer));
            }
        };
        SolrSynonymParser parser = new SolrSynonymParser(true, true, words);
        try {
            parser.parse(new StringReader(String.join("\n", rules)));
            return parser.build();
        } catch (IOException error) {
            throw new UncheckedIOException(error);
        } catch (ParseException error) {
            throw new IllegalArgumentException("synonym rules: " + error.getMessage(), error);
        }
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
        Settings nodeSettings,
        NamedWriteableRegistry namedWriteableRegistry,
        RestController restController,
        ClusterSettings clusterSettings,
        IndexScopedSettings indexScopedSettings,
        SettingsFilter settingsFilter,
        IndexNameExpressionResolver indexNameExpressionResolver,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return List.of(new MainHandler(settings));
    }

    /** The server's name, product and version, as the real {@code GET /} answers them. */
    private static final class MainHandler extends BaseRestHandler {
        private final Settings settings;

        MainHandler(Settings settings) {
            this.settings = settings;
        }

        @Override
        public String getName() {
            return "creditreg_main_action";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            Build build = Build.current();
            return channel -> {
                XContentBuilder body = channel.newBuilder();
                body.startObject()
                    .field("name", Node.NODE_NAME_SETTING.get(settings))
                    .field("cluster_name", ClusterName.CLUSTER_NAME_SETTING.get(settings).value())
                    .startObject("version")
                    .field("number", build.version())
                    .field("build_flavor", build.flavor())
                    .field("build_type", build.type().displayName())
                    .field("build_hash", build.hash())
                    .field("build_date", build.date())
                    .field("build_snapshot", build.isSnapshot())
                    .field("lucene_version", org.apache.lucene.util.Version.LATEST.toString())
                    .field("minimum_wire_compatibility_version", build.minWireCompatVersion())
                    .field("minimum_index_compatibility_version", build.minIndexCompatVersion())
                    .endObject()
                    .field("tagline", "You Know, for Search")
                    .endObject();
                channel.sendResponse(new RestResponse(RestStatus.OK, body));
            };
        }
    }
}
