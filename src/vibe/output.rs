//! What a model may say back: one or two supportive sentences of about 300
//! characters, with no diagnosis, clinical words, crisis instructions or signs
//! that it repeated its instructions. Anything else is replaced.

use super::guardrail;

const MAX_SENTENCES: usize = 2;
const MAX_CHARS: usize = 300;

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
    "don't need your med",
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
    "i can't",
    "i am unable",
    "i'm unable",
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
    let text = reply.trim().trim_matches(is_quote).trim();
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

/// Whether text holds anything a reply must not say.
pub fn is_unsafe(text: &str) -> bool {
    let lower = text.to_lowercase();
    CLINICAL
        .iter()
        .chain(CRISIS_INSTRUCTIONS)
        .chain(LEAKAGE)
        .chain(METHODS_AND_DOSES)
        .any(|word| contains_word_start(&lower, word))
        || MEDICATION_ADVICE
            .iter()
            .any(|phrase| contains_word_start(&lower, phrase))
        || guardrail::is_crisis(text)
}

/// As [`is_unsafe`], for the start of a reply still arriving: the last word may be
/// cut off (`die` of `diet`), so only the complete words are judged.
pub fn is_unsafe_prefix(text: &str) -> bool {
    let complete = match text.rfind(|c: char| !c.is_alphanumeric()) {
        Some(end) => &text[..end],
        None => "",
    };
    is_unsafe(complete)
}

/// The part of a reply still arriving that could be shown.
pub struct Shown<'a> {
    /// The text within the first two sentences (and the length limit) so far.
    pub checked_text: &'a str,
    /// The complete sentences of it.
    pub complete_text: &'a str,
    pub complete_sentences: usize,
    /// Nothing after `complete_text` can be shown: two sentences are complete, or
    /// the second would break the length limit.
    pub limit_reached: bool,
}

/// Splits text still arriving as [`check`] will split the whole of it. A sentence
/// is complete once white space follows its end mark.
pub fn shown_part(text: &str) -> Shown<'_> {
    let text = text.trim_start().trim_start_matches(is_quote).trim_start();
    let mut complete_end = 0;
    let mut complete_sentences = 0;
    let mut first_sentence_chars = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, next)) = chars.peek() {
            if matches!(next, '.' | '!' | '?' | '…' | '"' | '”' | ')') {
                end = j + next.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        if chars.peek().is_some_and(|(_, next)| next.is_whitespace()) {
            complete_sentences += 1;
            complete_end = end;
            if complete_sentences == 1 {
                first_sentence_chars = text[..end].trim().chars().count();
            }
            if complete_sentences == MAX_SENTENCES {
                break;
            }
        }
    }
    let over_length = complete_sentences == 1
        && text.trim_end().chars().count() > MAX_CHARS
        && first_sentence_chars <= MAX_CHARS;
    let limit_reached = complete_sentences >= MAX_SENTENCES || over_length;
    let checked_end = if limit_reached {
        complete_end
    } else {
        text.len()
    };
    Shown {
        checked_text: &text[..checked_end],
        complete_text: &text[..complete_end],
        complete_sentences,
        limit_reached,
    }
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”')
}

/// Sentences end at `.`, `!`, `?` or `…` followed by a space or the end.
fn split_sentences(text: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?' | '…') {
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
            let at_boundary = chars.peek().is_none_or(|(_, next)| next.is_whitespace());
            if at_boundary {
                let sentence = text[start..end].trim();
                if !sentence.is_empty() {
                    sentences.push(sentence);
                }
                start = end;
            }
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        sentences.push(rest);
    }
    sentences
}

/// `needle` occurs where a word starts (so "ocd" does not match "procedure").
fn contains_word_start(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(i, _)| {
        haystack[..i]
            .chars()
            .next_back()
            .is_none_or(|before| !before.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_partial_reply_is_split_as_the_whole_will_be() {
        let shown = shown_part("\"One day. Two days. Three");
        assert_eq!(shown.complete_sentences, 2);
        assert!(shown.limit_reached);
        assert_eq!(shown.complete_text, "One day. Two days.");
        let partial = shown_part("One day. Two da");
        assert_eq!(partial.complete_sentences, 1);
        assert!(!partial.limit_reached);
        assert_eq!(partial.checked_text, "One day. Two da");
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
