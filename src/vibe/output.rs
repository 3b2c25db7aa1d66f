//! What a model may say back: one or two supportive sentences of about 300
//! characters, with no diagnosis, clinical words, crisis instructions or signs
//! that it repeated its instructions. Anything else is replaced.

use super::guardrail;

const MAX_SENTENCES: usize = 2;
/// Longest reply, in characters, that can be shown.
pub const MAX_CHARS: usize = 300;

/// Words a reply must not use: diagnosis and clinical language.
const CLINICAL: &[&str] = &[
    "diagnos",
    "disorder",
    "depression",
    "depressive",
    "bipolar",
    "ptsd",
    "adhd",
    "ocd",
    "schizo",
    "psychosis",
    "psychotic",
    "clinical",
    "clinically",
    "symptom",
    "syndrome",
    "patholog",
    "therapy",
    "therapist",
    "psychiatr",
    "psycholog",
    "medication",
    "medicat",
    "antidepress",
    "prescri",
    "treatment",
    "mental illness",
    "mental health condition",
    "panic attack",
    "trauma",
];
/// Crisis instructions belong to the guardrail's disclaimer, never to a reply.
const CRISIS_INSTRUCTIONS: &[&str] = &[
    "hotline",
    "helpline",
    "crisis",
    "emergency",
    "911",
    "988",
    "112",
    "samaritans",
    "lifeline",
    "professional help",
    "seek help",
    "get help",
    "call a",
    "call someone",
    "text a",
    "hospital",
];
/// How to hurt oneself has no place in a reply: methods, doses, quantities.
const METHODS_AND_DOSES: &[&str] = &[
    "mg",
    "pill",
    "sertraline",
    "fluoxetine",
    "citalopram",
    "benadryl",
    "diphenhydramine",
    "xanax",
    "alprazolam",
    "diazepam",
    "valium",
    "lorazepam",
    "zolpidem",
    "melatonin",
    "oxycodone",
    "tramadol",
    "codeine",
    "insulin",
    "milligram",
    "dose",
    "dosage",
    "overdos",
    "lethal",
    "pills",
    "tablets",
    "noose",
    "razor",
    "blade",
    "painkiller",
    "paracetamol",
    "acetaminophen",
    "ibuprofen",
    "sleeping pill",
    "how many pills",
    "how to tie",
];
/// Advice about medication belongs to a doctor, never to a reply.
const MEDICATION_ADVICE: &[&str] = &[
    "stop taking",
    "quit taking",
    "stop your med",
    "quit your med",
    "skip your med",
    "come off your",
    "get off your",
    "go off your",
    "throw away your",
    "flush your",
    "dont need your med",
    "do not need your med",
    "meds",
];
/// Signs the model talked about itself or its instructions instead of the note.
const LEAKAGE: &[&str] = &[
    "system prompt",
    "my instructions",
    "these instructions",
    "as an ai",
    "as a language model",
    "language model",
    "i cannot",
    "i cant",
    "i am unable",
    "im unable",
    "openai",
    "<note>",
    "</note>",
    "journal note:",
    "tone rules",
    "assistant:",
    "user:",
    "system:",
];

/// The reply cut to at most two sentences, or `None` when it must be replaced.
/// Only what would be shown is judged: a third sentence is dropped unread.
pub fn check(reply: &str) -> Option<String> {
    shown_answer(&unwrap_quotes(reply))
}

/// A reply wrapped in quotes loses them: the opening quote (and white space) at
/// the start, and the first closing quote that has no opening partner left.
fn unwrap_quotes(reply: &str) -> String {
    let trimmed = reply.trim();
    let text = trimmed.trim_start_matches(|c: char| c.is_whitespace() || is_quote(c));
    let opened = &trimmed[..trimmed.len() - text.len()];
    let mut text = text.trim_end().to_owned();
    for (open, close) in [('"', '"'), ('“', '”')] {
        if !opened.contains(open) {
            continue;
        }
        let unmatched = if open == close {
            text.matches(close).count() % 2 == 1
        } else {
            text.matches(close).count() > text.matches(open).count()
        };
        if unmatched {
            if let Some(at) = text.find(close) {
                text.remove(at);
            }
        }
    }
    text
}

fn shown_answer(text: &str) -> Option<String> {
    let text = text.trim();
    let sentences = split_sentences(text);
    let kept: Vec<&str> = sentences.iter().take(MAX_SENTENCES).copied().collect();
    let mut cut = kept.join(" ");
    if cut.chars().count() > MAX_CHARS {
        cut = kept.first().map(|s| s.to_string()).unwrap_or_default();
    }
    let chars = cut.chars().count();
    if chars == 0 || chars > MAX_CHARS || is_unsafe(&cut) {
        return None;
    }
    Some(cut)
}

/// Whether text holds anything a reply must not say. The word lists are read in
/// the guardrail's normal form (case, width, diacritics, zero-width characters,
/// apostrophes), with look-alike letters mapped and white space and hyphens
/// collapsed, so `Sуstem\u{200B}-prompt` is still a system prompt.
pub fn is_unsafe(text: &str) -> bool {
    // Invisible characters read both ways: as nothing (`ther\u{AD}apy`) and as a
    // gap between words (`system\u{200B}prompt`).
    let spaced: String = text
        .chars()
        .map(|c| if is_zero_width(c) { ' ' } else { c })
        .collect();
    is_unsafe_as_written(&comparable(text))
        || is_unsafe_as_written(&comparable(&spaced))
        || guardrail::is_crisis(text)
}

fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

fn is_unsafe_as_written(lower: &str) -> bool {
    if mentions_a_dose(lower) {
        return true;
    }
    static FORBIDDEN: std::sync::LazyLock<WordStarts> = std::sync::LazyLock::new(|| {
        WordStarts::new(
            CLINICAL
                .iter()
                .chain(CRISIS_INSTRUCTIONS)
                .chain(LEAKAGE)
                .chain(METHODS_AND_DOSES)
                .chain(MEDICATION_ADVICE),
        )
    });
    FORBIDDEN.found_in(lower)
}

/// As [`is_unsafe`], for the start of a reply still arriving: the last word may be
/// cut off (`die` of `diet`), so only what comes before the last white space is
/// judged (characters that vanish in the normal form never end a word).
pub fn is_unsafe_prefix(text: &str) -> bool {
    let complete = match text.rfind(char::is_whitespace) {
        Some(end) => &text[..end],
        None => "",
    };
    is_unsafe(complete)
}

/// Text in the form the word lists are written in: lower case, no accents, no
/// zero-width characters or apostrophes, look-alikes mapped, one space between words.
fn comparable(text: &str) -> String {
    let folded = guardrail::normalise(text);
    let mut out = String::with_capacity(folded.len());
    let mut space = false;
    for c in folded.chars() {
        let c = match c {
            'а' => 'a',
            'е' => 'e',
            'о' => 'o',
            'р' => 'p',
            'с' => 'c',
            'у' => 'y',
            'х' => 'x',
            'і' => 'i',
            'ѕ' => 's',
            other => other,
        };
        if c.is_whitespace() || c == '-' || c == '_' {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// A number followed by a unit of a dose: `50mg`, `2 ml`, `10 tablets`.
fn mentions_a_dose(text: &str) -> bool {
    const UNITS: &[&str] = &[
        "mg",
        "mcg",
        "ml",
        "g ",
        "milligram",
        "tablet",
        "pill",
        "capsule",
        "drop",
    ];
    text.char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .any(|(i, _)| {
            let rest =
                text[i..].trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ',');
            let rest = rest.trim_start();
            UNITS.iter().any(|unit| rest.starts_with(unit))
        })
}

/// The complete sentences at the start of a reply still arriving (at most two),
/// and the byte offset where they end. A sentence is complete once white space
/// follows its end mark.
pub fn complete_sentences(text: &str) -> (usize, usize) {
    let ends = sentence_ends(text, false);
    let kept = &ends[..ends.len().min(MAX_SENTENCES)];
    (kept.len(), kept.last().copied().unwrap_or(0))
}

/// Where sentences end: after `.`, `!`, `?` or `…` (with any marks, closing quotes
/// or a parenthesis right after it) that white space follows, or, when
/// `text_is_whole`, the end of the text.
fn sentence_ends(text: &str, text_is_whole: bool) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        // Absorb runs such as "?!" or "...".
        let mut end = i + c.len_utf8();
        while let Some(&(j, next)) = chars.peek() {
            if matches!(next, '.' | '!' | '?' | '…' | '"' | '”' | ')') {
                end = j + next.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let at_boundary = match chars.peek() {
            Some((_, next)) => next.is_whitespace(),
            None => text_is_whole,
        };
        if at_boundary {
            ends.push(end);
        }
    }
    ends
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”')
}

/// The sentences of a whole reply (see [`sentence_ends`]); the rest after the last
/// end mark is a sentence too.
fn split_sentences(text: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut start = 0;
    for end in sentence_ends(text, true) {
        let sentence = text[start..end].trim();
        if !sentence.is_empty() {
            sentences.push(sentence);
        }
        start = end;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        sentences.push(rest);
    }
    sentences
}

/// Needles that count where a word starts (so "ocd" does not match "procedure"),
/// grouped by first byte: one pass over the text tries, at each place after a
/// character that is not a letter or digit, only the needles that begin with the
/// byte found there. Every reply and every streamed prefix is checked, so this
/// runs far more often than the lists change.
struct WordStarts {
    by_first_byte: Vec<Vec<&'static str>>,
}

impl WordStarts {
    fn new<'a>(needles: impl Iterator<Item = &'a &'static str>) -> Self {
        let mut by_first_byte = vec![Vec::new(); 256];
        for needle in needles {
            if let Some(&first) = needle.as_bytes().first() {
                by_first_byte[usize::from(first)].push(*needle);
            }
        }
        Self { by_first_byte }
    }

    fn found_in(&self, haystack: &str) -> bool {
        let bytes = haystack.as_bytes();
        let mut after_word_character = false;
        for (at, c) in haystack.char_indices() {
            if !after_word_character {
                let rest = &bytes[at..];
                if self.by_first_byte[usize::from(bytes[at])]
                    .iter()
                    .any(|needle| rest.starts_with(needle.as_bytes()))
                {
                    return true;
                }
            }
            after_word_character = c.is_alphanumeric();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition [`WordStarts`] must keep: the needle occurs after a
    /// character that is not a letter or digit, or at the very start.
    fn naive_word_start(haystack: &str, needle: &str) -> bool {
        haystack.match_indices(needle).any(|(i, _)| {
            haystack[..i]
                .chars()
                .next_back()
                .is_none_or(|before| !before.is_alphanumeric())
        })
    }

    #[test]
    fn word_starts_agree_with_the_plain_definition() {
        let lists = [
            CLINICAL,
            CRISIS_INSTRUCTIONS,
            LEAKAGE,
            METHODS_AND_DOSES,
            MEDICATION_ADVICE,
        ];
        let all: Vec<&'static str> = lists.iter().flat_map(|l| l.iter().copied()).collect();
        assert!(all.iter().all(|n| !n.is_empty()));
        let matcher = WordStarts::new(all.iter());
        let mut texts: Vec<String> = vec![
            "a procedure, then rest".into(),
            "".into(),
            "ocd".into(),
            "éocd ocd".into(),
            "xocd—ocd".into(),
            "naïve 1ocd 2 ocd".into(),
        ];
        for needle in &all {
            texts.push(format!("it is {needle} here"));
            texts.push(format!("x{needle}"));
            texts.push(format!("é{needle}"));
            texts.push(format!("-{needle}"));
            texts.push(needle.to_string());
        }
        for text in &texts {
            let expected = all.iter().any(|needle| naive_word_start(text, needle));
            assert_eq!(matcher.found_in(text), expected, "{text:?}");
        }
    }

    #[test]
    fn a_two_sentence_reply_is_kept_as_it_is() {
        let reply = "That sounds like a full day. Be kind to yourself tonight.";
        assert_eq!(check(reply).as_deref(), Some(reply));
    }

    #[test]
    fn a_third_sentence_is_cut() {
        let reply = "That sounds hard. You did your best. Tomorrow is another day.";
        assert_eq!(
            check(reply).as_deref(),
            Some("That sounds hard. You did your best.")
        );
    }

    #[test]
    fn clinical_words_and_diagnosis_are_replaced() {
        assert_eq!(
            check("This sounds like clinical depression. Consider therapy."),
            None
        );
        assert_eq!(check("You may have an anxiety disorder."), None);
        assert_eq!(check("These are symptoms of burnout."), None);
    }

    #[test]
    fn crisis_instructions_are_replaced() {
        assert_eq!(check("Please call a hotline right away."), None);
        assert_eq!(check("If this gets worse, go to the emergency room."), None);
    }

    #[test]
    fn prompt_leakage_is_replaced() {
        assert_eq!(check("As an AI language model, I cannot feel."), None);
        assert_eq!(
            check("My instructions say to be supportive. You are great."),
            None
        );
    }

    #[test]
    fn an_empty_or_overlong_reply_is_replaced() {
        assert_eq!(check("   "), None);
        assert_eq!(check(&"word ".repeat(100)), None);
    }

    #[test]
    fn words_that_merely_contain_a_banned_stem_are_fine() {
        let reply = "Following the procedure calmly was a good call.";
        assert!(check(reply).is_some());
    }

    #[test]
    fn instructions_about_methods_doses_or_stopping_medication_are_replaced() {
        assert_eq!(check("Take 20 mg and you will sleep. Rest."), None);
        assert_eq!(check("A few sleeping pills would help you rest."), None);
        assert_eq!(check("Maybe stop taking your tablets for a while."), None);
        assert_eq!(check("You could quit your meds, you seem fine."), None);
        assert!(check("A dose of fresh air might help. Be gentle with yourself.").is_none());
        assert!(check("Be gentle with yourself tonight.").is_some());
    }

    #[test]
    fn only_the_two_shown_sentences_are_judged() {
        assert_eq!(
            check("You did well. Rest now. Therapy would help.").as_deref(),
            Some("You did well. Rest now.")
        );
    }

    #[test]
    fn complete_sentences_need_the_white_space_after_them() {
        assert_eq!(complete_sentences("One day. Two days. Three"), (2, 18));
        assert_eq!(complete_sentences("One day. Two da"), (1, 8));
        assert_eq!(complete_sentences("One day."), (0, 0));
    }

    #[test]
    fn check_is_idempotent_and_strips_nested_quotes() {
        for reply in [
            "\" \"Hello there.\" Bye now. Three more.",
            "“You did well.” “Rest now.” Three.",
        ] {
            let once = check(reply);
            assert_eq!(once.as_deref().and_then(check), once, "{reply}");
        }
    }

    #[test]
    fn disguised_leaks_and_doses_are_caught() {
        for reply in [
            "My system\u{200B}prompt says be kind.",
            "My sуstem prompt says be kind.",
            "My system  prompt says be kind.",
            "My system-prompt says be kind.",
            "I can’t help with that.",
            "Maybe try ther\u{00AD}apy.",
            "Maybe try ｔｈｅｒａｐｙ.",
            "Take 50mg of it tonight.",
            "Two benadryl will help you sleep.",
            "Take a pill and rest.",
        ] {
            assert_eq!(check(reply), None, "{reply}");
        }
        assert!(check("You walked 5 km today, well done.").is_some());
    }

    #[test]
    fn the_last_word_of_a_partial_reply_is_not_judged_until_it_ends() {
        assert!(!is_unsafe_prefix("You said you want to die"));
        assert!(is_unsafe_prefix("You said you want to die "));
        assert!(is_unsafe_prefix("My system prompt "));
    }

    #[test]
    fn surrounding_quotes_are_removed() {
        assert_eq!(
            check("\"You did well today.\"").as_deref(),
            Some("You did well today.")
        );
    }
}
