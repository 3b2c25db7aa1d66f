//! The filters of `GET /api/entries`: a full-text `q`, every-of `tag`, any-of `mood`.

use unicode_normalization::UnicodeNormalization;

use super::{FieldErrors, ValidationError};

const MAX_QUERY_CHARS: usize = 200;
const MAX_FILTER_VALUES: usize = 10;

/// Search words: each group is one word or one quoted phrase, split into the terms
/// the index holds (letters and digits); the last bare word also matches as a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub groups: Vec<SearchGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchGroup {
    /// Terms that must follow one another (one term for a plain word).
    pub terms: Vec<String>,
    /// The last term may be the start of a longer word.
    pub prefix: bool,
}

impl SearchQuery {
    /// Any text is plain words: quotes make phrases, every other character only
    /// separates words, so search syntax (`*`, `-`, `:`, `NEAR`, `AND`, parentheses)
    /// never changes the meaning. `None` when there is nothing to search for.
    ///
    /// # Errors
    /// A message for `q` over 200 characters.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(format!("must be at most {MAX_QUERY_CHARS} characters"));
        }
        let mut groups = Vec::new();
        let mut last_is_bare_word = false;
        for (index, part) in raw.split('"').enumerate() {
            // Between an opening and a closing quote; an unclosed quote's text is a phrase too.
            let quoted = index % 2 == 1;
            if quoted {
                let terms = words(part);
                if !terms.is_empty() {
                    groups.push(SearchGroup {
                        terms,
                        prefix: false,
                    });
                    last_is_bare_word = false;
                }
            } else {
                // Outside quotes every term is a word of its own: `c:d` is c AND d.
                for term in words(part) {
                    groups.push(SearchGroup {
                        terms: vec![term],
                        prefix: false,
                    });
                    last_is_bare_word = true;
                }
            }
        }
        if last_is_bare_word {
            if let Some(last) = groups.last_mut() {
                last.prefix = true;
            }
        }
        Ok((!groups.is_empty()).then_some(Self { groups }))
    }
}

/// The words of a text as search compares them: diacritics removed (`Café` is
/// `cafe`), lower case, runs of letters and digits (everything else separates).
pub fn words(text: &str) -> Vec<String> {
    split_words(&fold(text)).map(str::to_owned).collect()
}

/// `text` lower-cased and without diacritics, as search compares words.
fn fold(text: &str) -> String {
    // ASCII has no diacritics to remove: skip the decomposition, which is most of
    // the cost when a search checks its candidates.
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of folded text: its runs of letters and digits.
fn split_words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
}

/// A word's prefixes are indexed at these lengths (when it is that long), and
/// nothing else: every word a search names, whole or as a prefix, is looked up by
/// the longest of them that fits, and the rest is checked on the opened
/// candidates. A word of one or two characters has no token; a search for one is
/// narrowed by its other words, if any. Two prefixes per word, and no token of the
/// whole word, keep an entry's index small, which is what keeps writes fast.
pub const INDEXED_PREFIX_LENGTHS: [usize; 2] = [3, 5];

/// A term of the search index, before it is keyed: the start of a word, as long
/// as one of [`INDEXED_PREFIX_LENGTHS`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexTerm(String);

impl IndexTerm {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The first `n` characters of `word`, if it has that many.
fn first_chars(word: &str, n: usize) -> Option<&str> {
    match word.char_indices().nth(n) {
        Some((end, _)) => Some(&word[..end]),
        None => (word.chars().count() == n).then_some(word),
    }
}

/// Every term an entry is found by: the prefixes of each word of the note and of
/// the tags at [`INDEXED_PREFIX_LENGTHS`]; each term once.
pub fn index_terms(note: &str, tags: &[String]) -> Vec<IndexTerm> {
    let mut found = std::collections::BTreeSet::new();
    let texts = std::iter::once(note).chain(tags.iter().map(String::as_str));
    for word in texts.flat_map(words) {
        for n in INDEXED_PREFIX_LENGTHS {
            if let Some(prefix) = first_chars(&word, n) {
                found.insert(IndexTerm(prefix.to_owned()));
            }
        }
    }
    found.into_iter().collect()
}

/// The term a search looks a word up by, whole or as a prefix: its longest
/// indexed prefix. `None` for a word shorter than every indexed prefix.
fn indexed_prefix(term: &str) -> Option<IndexTerm> {
    INDEXED_PREFIX_LENGTHS
        .iter()
        .rev()
        .find_map(|&n| first_chars(term, n))
        .map(|prefix| IndexTerm(prefix.to_owned()))
}

impl SearchQuery {
    /// Terms every match holds (each word's longest indexed start): the index
    /// narrows the search to entries with all of them, and
    /// [`SearchQuery::matches`] decides on the opened text. Empty when every word
    /// is too short to have a token.
    pub fn required_terms(&self) -> Vec<IndexTerm> {
        let mut required = Vec::new();
        for term in self.groups.iter().flat_map(|group| &group.terms) {
            if let Some(wanted) = indexed_prefix(term).filter(|w| !required.contains(w)) {
                required.push(wanted);
            }
        }
        required
    }

    /// Whether an entry matches: every group is found within the note or within
    /// one tag, its words in order and next to one another, the last word of a
    /// prefix group as the start of a word.
    pub fn matches(&self, note: &str, tags: &[String]) -> bool {
        // Each text is folded once and its words borrowed from it: a search checks
        // every candidate it reads, so this runs per row.
        let folded: Vec<String> = std::iter::once(note)
            .chain(tags.iter().map(String::as_str))
            .map(fold)
            .collect();
        let texts: Vec<Vec<&str>> = folded
            .iter()
            .map(|text| split_words(text).collect())
            .collect();
        self.groups
            .iter()
            .all(|group| texts.iter().any(|text| group.is_in(text)))
    }
}

impl SearchGroup {
    fn is_in(&self, text: &[&str]) -> bool {
        let n = self.terms.len();
        if n == 0 || text.len() < n {
            return n == 0;
        }
        text.windows(n).any(|window| {
            window
                .iter()
                .zip(&self.terms)
                .enumerate()
                .all(|(i, (word, term))| {
                    if self.prefix && i == n - 1 {
                        word.starts_with(term.as_str())
                    } else {
                        *word == term
                    }
                })
        })
    }
}

/// The key that once marked one owner's words in the search index over words in
/// clear; only the migrations that built (and later removed) that index use it.
pub fn owner_key(user_id: &str) -> String {
    std::iter::once('u')
        .chain(user_id.chars().filter(char::is_ascii_alphanumeric).take(8))
        .collect()
}

/// `text` as the old search index held it for one owner (see [`owner_key`]).
pub fn owned_terms(user_id: &str, text: &str) -> String {
    let key = owner_key(user_id);
    let mut indexed = String::with_capacity(text.len() * 2);
    for term in words(text) {
        if !indexed.is_empty() {
            indexed.push(' ');
        }
        indexed.push_str(&key);
        indexed.push_str(&term);
    }
    indexed
}

/// A tag as filters compare it: trimmed, NFC, lower case.
pub fn fold_tag(tag: &str) -> String {
    tag.trim().nfc().collect::<String>().to_lowercase()
}

/// `q`, `tag` (every one) and `mood` (any one) of `GET /api/entries`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryFilter {
    pub search: Option<SearchQuery>,
    /// Folded tags, each of which an entry must carry.
    pub tags: Vec<String>,
    /// Lower-cased moods, one of which an entry must have.
    pub moods: Vec<String>,
}

impl EntryFilter {
    /// Reads the filters from every `(name, value)` pair of the query string.
    ///
    /// # Errors
    /// 422 naming `q`, `tag` or `mood`.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ValidationError> {
        let mut errors = FieldErrors::default();
        let values = |name: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
                .collect()
        };
        let search = match values("q").last() {
            Some(q) => errors.take("q", SearchQuery::parse(q)).flatten(),
            None => None,
        };
        let tags = errors.take("tag", folded_values(&values("tag"), fold_tag));
        let moods = errors.take(
            "mood",
            folded_values(&values("mood"), |m| {
                m.trim().nfc().collect::<String>().to_lowercase()
            }),
        );
        errors.into_result()?;
        Ok(Self {
            search,
            tags: tags.unwrap_or_default(),
            moods: moods.unwrap_or_default(),
        })
    }
}

fn folded_values(values: &[&str], fold: impl Fn(&str) -> String) -> Result<Vec<String>, String> {
    if values.len() > MAX_FILTER_VALUES {
        return Err(format!("may be given at most {MAX_FILTER_VALUES} times"));
    }
    let mut folded: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let value = fold(value);
        if value.is_empty() {
            return Err("must not be empty".into());
        }
        if !folded.contains(&value) {
            folded.push(value);
        }
    }
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(q: &str) -> Vec<(Vec<&'static str>, bool)> {
        SearchQuery::parse(q)
            .unwrap()
            .map(|s| s.groups)
            .unwrap_or_default()
            .into_iter()
            .map(|g| {
                let terms: Vec<&'static str> = g
                    .terms
                    .into_iter()
                    .map(|t| &*Box::leak(t.into_boxed_str()))
                    .collect();
                (terms, g.prefix)
            })
            .collect()
    }

    #[test]
    fn words_are_terms_and_the_last_one_is_a_prefix() {
        assert_eq!(
            groups("Morning WALK"),
            [(vec!["morning"], false), (vec!["walk"], true)]
        );
    }

    #[test]
    fn quotes_make_a_phrase_and_a_phrase_is_never_a_prefix() {
        assert_eq!(
            groups("\"long walk\" river"),
            [(vec!["long", "walk"], false), (vec!["river"], true)]
        );
        assert_eq!(
            groups("river \"long walk\""),
            [(vec!["river"], false), (vec!["long", "walk"], false)]
        );
        assert_eq!(
            groups("\"unclosed phrase"),
            [(vec!["unclosed", "phrase"], false)]
        );
    }

    #[test]
    fn search_syntax_is_only_separators() {
        assert_eq!(
            groups("a* -b c:d (NEAR) AND"),
            [
                (vec!["a"], false),
                (vec!["b"], false),
                (vec!["c"], false),
                (vec!["d"], false),
                (vec!["near"], false),
                (vec!["and"], true),
            ]
        );
        assert_eq!(SearchQuery::parse("*** -- ()").unwrap(), None);
        assert_eq!(SearchQuery::parse("   ").unwrap(), None);
    }

    #[test]
    fn old_index_terms_carry_their_owner() {
        let owner = "0b5e7f6a-1c2d-4e3f-8a9b-0c1d2e3f4a5b";
        let key = owner_key(owner);
        assert_eq!(key, "u0b5e7f6a");
        assert_eq!(
            owned_terms(owner, r#"Café, "walk"!  ["work","run"]"#),
            format!("{key}cafe {key}walk {key}work {key}run")
        );
        assert_eq!(owned_terms(owner, " -*: "), "");
    }

    fn query(q: &str) -> SearchQuery {
        SearchQuery::parse(q).unwrap().unwrap()
    }

    #[test]
    fn words_lose_case_and_diacritics() {
        assert_eq!(
            words("Café CRÈME, naïve-Zoë 42"),
            ["cafe", "creme", "naive", "zoe", "42"]
        );
    }

    fn prefixes(list: &[&str]) -> Vec<IndexTerm> {
        list.iter().map(|t| IndexTerm((*t).to_owned())).collect()
    }

    #[test]
    fn an_entry_is_indexed_by_two_prefixes_of_each_word_and_nothing_else() {
        assert_eq!(
            index_terms("Walk by", &["Running".to_string()]),
            prefixes(&["run", "runni", "wal"])
        );
        // A word as long as an indexed prefix is that prefix; one or two
        // characters have no token.
        assert_eq!(
            index_terms("a day by the river", &[]),
            prefixes(&["day", "riv", "river", "the"])
        );
        assert!(!query("river day").matches("rivers days", &[]));
        assert!(query("river day").matches("a day by the river", &[]));
    }

    #[test]
    fn prefixes_of_words_in_other_scripts_are_cut_by_characters() {
        // Cyrillic (two bytes a character) and Japanese (three): a cut by bytes
        // would split a character or give another prefix.
        assert_eq!(
            index_terms("Прогулка 日本語のテキスト", &[]),
            prefixes(&["про", "прогу", "日本語", "日本語のテ"])
        );
        assert_eq!(query("ПРОГУЛКА").required_terms(), prefixes(&["прогу"]));
        assert_eq!(query("καλημέρα").required_terms(), prefixes(&["καλημ"]));
        assert!(query("прогулка").matches("Прогулка у реки", &[]));
        assert!(query("καλημερα").matches("Καλημέρα!", &[]));
        assert!(!query("прогулкой").matches("Прогулка у реки", &[]));
    }

    #[test]
    fn a_search_requires_the_longest_indexed_prefix_of_each_word() {
        assert_eq!(
            query("\"long walk\" riverside").required_terms(),
            prefixes(&["lon", "wal", "river"])
        );
        assert_eq!(query("walk").required_terms(), prefixes(&["wal"]));
        assert_eq!(
            query("river day").required_terms(),
            prefixes(&["river", "day"])
        );
        assert_eq!(query("by wa").required_terms(), []);
        assert_eq!(query("wa").required_terms(), []);
        // Each required term is one the entry holds, whole word or prefix.
        let indexed = index_terms("a long walk by the riverside", &[]);
        for q in ["\"long walk\" riverside", "riversid", "walk the", "lon"] {
            for term in query(q).required_terms() {
                assert!(indexed.contains(&term), "{q}: {term:?}");
            }
        }
    }

    #[test]
    fn matching_follows_the_search_rules() {
        let tags = ["Work".to_string(), "long run".to_string()];
        let note = "A long walk by the river, then café.";
        assert!(query("walk").matches(note, &tags));
        assert!(query("wal").matches(note, &tags));
        assert!(!query("walk river").matches("walking rivers", &[]));
        assert!(query("walk riv").matches(note, &tags));
        assert!(query("CAFE").matches(note, &tags));
        assert!(query("\"long walk\"").matches(note, &tags));
        assert!(!query("\"walk long\"").matches(note, &tags));
        assert!(query("\"long run\"").matches(note, &tags));
        assert!(
            !query("\"work long\"").matches(note, &tags),
            "a phrase stays within one tag"
        );
        assert!(query("work").matches(note, &tags));
        assert!(!query("walks").matches(note, &tags));
    }

    #[test]
    fn a_query_over_200_characters_is_refused() {
        assert!(SearchQuery::parse(&"a".repeat(200)).is_ok());
        assert!(SearchQuery::parse(&"a".repeat(201)).is_err());
        // Characters, not bytes: three bytes each.
        assert!(SearchQuery::parse(&"語".repeat(200)).is_ok());
        assert!(SearchQuery::parse(&"語".repeat(201)).is_err());
    }

    #[test]
    fn tags_and_moods_are_folded_and_deduplicated() {
        let pairs: Vec<(String, String)> = [
            ("tag", " Work "),
            ("tag", "work"),
            ("mood", "Calm"),
            ("mood", "sad"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let filter = EntryFilter::parse(&pairs).unwrap();
        assert_eq!(filter.tags, ["work"]);
        assert_eq!(filter.moods, ["calm", "sad"]);
        let empty = vec![("tag".to_string(), "  ".to_string())];
        assert!(EntryFilter::parse(&empty).is_err());
    }
}
