package org.creditreg.nodes;

import java.util.List;
import java.util.Map;

import com.ibm.icu.text.Transliterator;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.cn.smart.HMMChineseTokenizer;
import org.apache.lucene.analysis.icu.ICUFoldingFilter;
import org.apache.lucene.analysis.icu.ICUNormalizer2Filter;
import org.apache.lucene.analysis.icu.ICUTransformFilter;
import org.apache.lucene.analysis.icu.segmentation.ICUTokenizer;
import org.opensearch.index.analysis.AbstractTokenFilterFactory;
import org.opensearch.index.analysis.PreConfiguredTokenFilter;
import org.opensearch.index.analysis.PreConfiguredTokenizer;
import org.opensearch.index.analysis.TokenFilterFactory;
import org.opensearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.opensearch.plugins.AnalysisPlugin;
import org.opensearch.plugins.Plugin;

/**
 * ICU and smartcn analysis under the names of OpenSearch's own plugins (icu_tokenizer,
 * icu_folding, icu_normalizer, icu_transform, smartcn_tokenizer), built on Lucene: those
 * plugins are not published where this node's build can fetch them.
 */
public final class ChineseAnalysis extends Plugin implements AnalysisPlugin {

    @Override
    public List<PreConfiguredTokenizer> getPreConfiguredTokenizers() {
        return List.of(
            PreConfiguredTokenizer.singleton("icu_tokenizer", ICUTokenizer::new),
            PreConfiguredTokenizer.singleton("smartcn_tokenizer", HMMChineseTokenizer::new)
        );
    }

    @Override
    public List<PreConfiguredTokenFilter> getPreConfiguredTokenFilters() {
        return List.of(
            PreConfiguredTokenFilter.singleton("icu_folding", true, ICUFoldingFilter::new),
            PreConfiguredTokenFilter.singleton("icu_normalizer", true, ICUNormalizer2Filter::new)
        );
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        // {"type": "icu_transform", "id": "Traditional-Simplified"} and the like.
        return Map.of("icu_transform", (indexSettings, environment, name, settings) -> {
            Transliterator transform = Transliterator.getInstance(settings.get("id", "Null"));
            return new AbstractTokenFilterFactory(indexSettings, name, settings) {
                @Override
                public TokenStream create(TokenStream input) {
                    return new ICUTransformFilter(input, transform);
                }
            };
        });
    }
}
