// The analysis components that the .security index's "email" analyzer needs and that
// Elastic's integ-test distribution lacks, because they live in the analysis-common
// module it leaves out. x-pack-security defines that analyzer as
//     tokenizer uax_url_email, filters [email (pattern_capture), lowercase, unique]
// and without them no user or password can be stored. The server itself provides the
// preconfigured "lowercase" filter, so only the other three are registered here, each
// a thin wrapper of the Lucene class (or, for "unique", a copy of the behaviour) that
// analysis-common wraps. Only escert's end-to-end tests use this plugin
// (scripts/build-es-test-analysis builds and installs it). Its constructor also works
// around a class-initialization deadlock of Elasticsearch 9.5.4 (see there).
//
// It implements the factory interfaces rather than extending ES's Abstract*Factory
// classes, whose constructors differ between 8.x and 9.x, so one source builds for both.
package escert.testanalysis;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.FilteringTokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.PositionIncrementAttribute;
import org.elasticsearch.ElasticsearchException;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

public class TestAnalysisPlugin extends Plugin implements AnalysisPlugin {

    public TestAnalysisPlugin() throws ClassNotFoundException {
        // Not analysis: initialize ElasticsearchException now, while the node starts on
        // one thread. On 9.5.4 the JVM's first two exceptions, raised together just after
        // startup (the master's security-migration task and the first password upsert's
        // DocumentMissingException), deadlock initializing ElasticsearchException and
        // EngineException, each thread waiting for the other; seen in 2 of 7 test runs.
        // (One-argument forName: 8.17's SecurityManager denies getClassLoader().)
        Class.forName(ElasticsearchException.class.getName());
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        // uax_url_email: the email analyzer's tokenizer, which keeps an address whole.
        return Map.of("uax_url_email", (indexSettings, env, name, settings) -> {
            int maxTokenLength = settings.getAsInt("max_token_length", StandardAnalyzer.DEFAULT_MAX_TOKEN_LENGTH);
            return TokenizerFactory.newFactory(name, () -> {
                UAX29URLEmailTokenizer tokenizer = new UAX29URLEmailTokenizer();
                tokenizer.setMaxTokenLength(maxTokenLength);
                return tokenizer;
            });
        });
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            // pattern_capture: the analyzer's "email" filter, which also emits the local
            // part, the domain and their words and numbers (patterns, preserve_original).
            "pattern_capture", AnalysisPlugin.requiresAnalysisSettings((indexSettings, env, name, settings) -> {
                List<String> regexes = settings.getAsList("patterns", null, false);
                if (regexes == null) {
                    throw new IllegalArgumentException("required setting 'patterns' is missing for token filter [" + name + "]");
                }
                Pattern[] patterns = regexes.stream().map(Pattern::compile).toArray(Pattern[]::new);
                boolean preserveOriginal = settings.getAsBoolean("preserve_original", true);
                return filter(name, in -> new PatternCaptureGroupTokenFilter(in, preserveOriginal, patterns));
            }),
            // unique: drops the duplicates the captures produce, as analysis-common's does.
            "unique", (indexSettings, env, name, settings) -> {
                boolean onlyOnSamePosition = settings.getAsBoolean("only_on_same_position", false);
                return filter(name, in -> new UniqueTokenFilter(in, onlyOnSamePosition));
            });
    }

    private interface Wrapper {
        TokenStream wrap(TokenStream in);
    }

    private static TokenFilterFactory filter(String name, Wrapper wrapper) {
        return new TokenFilterFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public TokenStream create(TokenStream tokenStream) {
                return wrapper.wrap(tokenStream);
            }
        };
    }

    /**
     * Elasticsearch's "unique" filter: passes only the first occurrence of each term
     * (with onlyOnSamePosition, of each term at one position), the positions of the
     * terms it drops carried over as analysis-common's does. Lucene's
     * RemoveDuplicatesTokenFilter only ever drops duplicates at the same position.
     */
    static final class UniqueTokenFilter extends FilteringTokenFilter {
        private final CharTermAttribute termAttribute = addAttribute(CharTermAttribute.class);
        private final PositionIncrementAttribute posIncAttribute = addAttribute(PositionIncrementAttribute.class);
        private final CharArraySet seen = new CharArraySet(8, false);
        private final boolean onlyOnSamePosition;

        UniqueTokenFilter(TokenStream in, boolean onlyOnSamePosition) {
            super(in);
            this.onlyOnSamePosition = onlyOnSamePosition;
        }

        @Override
        protected boolean accept() {
            if (onlyOnSamePosition && posIncAttribute.getPositionIncrement() > 0) {
                seen.clear();
            }
            if (seen.contains(termAttribute.buffer(), 0, termAttribute.length())) {
                return false;
            }
            seen.add(termAttribute.toString()); // a copy: the buffer is reused
            return true;
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            seen.clear();
        }
    }
}
