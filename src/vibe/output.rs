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
pub fn check(reply: &str) -> Option<String> {
    let text = reply
        .trim()
        .trim_matches(|c| c == '"' || c == '“' || c == '”')
        .trim();
    if text.is_empty() {
        return None;
    }
    let lower = text.to_lowercase();
    let banned = CLINICAL.iter().chain(CRISIS_INSTRUCTIONS).chain(LEAKAGE);
    if banned.clone().any(|word| contains_word_start(&lower, word)) || guardrail::is_crisis(text) {
        return None;
    }
    let sentences = split_sentences(text);
    let kept: Vec<&str> = sentences.iter().take(MAX_SENTENCES).copied().collect();
    let mut cut = kept.join(" ");
    if cut.chars().count() > MAX_CHARS {
        cut = kept.first().map(|s| s.to_string()).unwrap_or_default();
    }
    let chars = cut.chars().count();
    (chars > 0 && chars <= MAX_CHARS).then_some(cut)
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
    fn surrounding_quotes_are_removed() {
        assert_eq!(
            check("\"You did well today.\"").as_deref(),
            Some("You did well today.")
        );
    }
}
