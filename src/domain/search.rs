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
                let terms = terms(part);
                if !terms.is_empty() {
                    groups.push(SearchGroup {
                        terms,
                        prefix: false,
                    });
                    last_is_bare_word = false;
                }
            } else {
                // Outside quotes every term is a word of its own: `c:d` is c AND d.
                for term in terms(part) {
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

/// The runs of letters and digits of a word, as the index tokenises text.
fn terms(text: &str) -> Vec<String> {
    text.nfc()
        .collect::<String>()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The key that marks one owner's words in the search index: `u` and the first
/// eight hex digits of the id. It partitions the index, it does not guard it (every
/// search also names its owner), so two owners sharing a key only share the cost of
/// a few postings, while a short key keeps every indexed term short: a full id
/// made entry writes about 10% slower.
pub fn owner_key(user_id: &str) -> String {
    std::iter::once('u')
        .chain(user_id.chars().filter(char::is_ascii_alphanumeric).take(8))
        .collect()
}

/// `text` as the search index holds it for one owner: each of its terms, in order,
/// prefixed with the owner's key, so a word or prefix query for one owner never
/// reads another owner's postings.
pub fn owned_terms(user_id: &str, text: &str) -> String {
    let key = owner_key(user_id);
    let mut indexed = String::with_capacity(text.len() * 2);
    for term in terms(text) {
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
    fn indexed_terms_carry_their_owner() {
        let owner = "0b5e7f6a-1c2d-4e3f-8a9b-0c1d2e3f4a5b";
        let key = owner_key(owner);
        assert_eq!(key, "u0b5e7f6a");
        assert_eq!(
            owned_terms(owner, r#"Café, "walk"!  ["work","run"]"#),
            format!("{key}café {key}walk {key}work {key}run")
        );
        assert_eq!(owned_terms(owner, " -*: "), "");
    }

    #[test]
    fn a_query_over_200_characters_is_refused() {
        assert!(SearchQuery::parse(&"a".repeat(200)).is_ok());
        assert!(SearchQuery::parse(&"a".repeat(201)).is_err());
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
