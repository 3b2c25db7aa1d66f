//! Replies without a model: short supportive templates chosen by mood and words.
//! Also the safe replacement when a model's reply fails the output check.

use tokio::sync::mpsc;

use super::{fnv1a, BackendError, BoxFuture, VibeCheck, VibeRequest};

pub struct RulesBackend;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tone {
    Bright,
    Heavy,
    Tense,
    Tired,
    Neutral,
}

const BRIGHT: &[&str] = &[
    "It sounds like there was real warmth in your day. Hold on to what made it feel good.",
    "What a lovely thing to notice and write down. Moments like these are worth savouring.",
    "There is a lightness in what you wrote. It's nice to pause and enjoy it.",
];
const HEAVY: &[&str] = &[
    "That sounds like a lot to carry today. Be gentle with yourself as you take it one step at a time.",
    "Thank you for putting this into words; it's okay for some days to feel heavy. You deserve kindness, especially from yourself.",
    "It makes sense that today felt hard. Small comforts still count, so let yourself have one.",
];
const TENSE: &[&str] = &[
    "There is a lot on your mind right now, and noticing it is a good first step. A slow breath can make a little room.",
    "It sounds like things feel busy and uncertain. You don't have to solve everything tonight.",
    "Feeling on edge after a day like that is understandable. Try to give yourself a quiet moment.",
];
const TIRED: &[&str] = &[
    "It sounds like you've been running on empty. Rest is something you've earned, not something to justify.",
    "Your energy has gone somewhere real today. Let yourself slow down when you can.",
];
const NEUTRAL: &[&str] = &[
    "Thank you for taking a moment to check in with yourself. Noticing how you feel is worth doing.",
    "It's good to put the day into words. Whatever it held, you showed up for it.",
    "Writing things down can make a day feel clearer. Take what you need from it and let the rest go.",
];

const BRIGHT_WORDS: &[&str] = &[
    "happy",
    "great",
    "good",
    "joy",
    "joyful",
    "grateful",
    "excited",
    "calm",
    "proud",
    "love",
    "loved",
    "wonderful",
    "amazing",
    "relaxed",
    "peaceful",
    "content",
    "fun",
    "glad",
    "thankful",
    "laugh",
    "laughed",
    "laughing",
    "smile",
    "smiled",
    "lovely",
    "enjoyed",
];
const HEAVY_WORDS: &[&str] = &[
    "sad",
    "down",
    "lonely",
    "alone",
    "cry",
    "cried",
    "crying",
    "hurt",
    "upset",
    "angry",
    "miss",
    "lost",
    "grief",
    "hopeless",
    "awful",
    "terrible",
    "bad",
    "frustrated",
    "disappointed",
];
const TENSE_WORDS: &[&str] = &[
    "anxious",
    "stressed",
    "stress",
    "worried",
    "worry",
    "nervous",
    "overwhelmed",
    "deadline",
    "pressure",
    "panic",
    "tense",
    "scared",
    "afraid",
];
const TIRED_WORDS: &[&str] = &[
    "tired",
    "exhausted",
    "sleep",
    "sleepy",
    "drained",
    "burnt",
    "burned",
    "fatigue",
];

/// The overall feeling of a note, from its mood and its words.
pub fn tone_of(note: &str, mood: Option<&str>) -> Tone {
    let lower = note.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mood = mood.map(str::to_lowercase);
    let score = |list: &[&str]| {
        let from_mood = mood.as_deref().is_some_and(|m| list.contains(&m)) as usize * 3;
        from_mood + words.iter().filter(|w| list.contains(w)).count()
    };
    let scores = [
        (Tone::Heavy, score(HEAVY_WORDS)),
        (Tone::Tense, score(TENSE_WORDS)),
        (Tone::Tired, score(TIRED_WORDS)),
        (Tone::Bright, score(BRIGHT_WORDS)),
    ];
    scores
        .iter()
        .filter(|(_, s)| *s > 0)
        .max_by_key(|(_, s)| *s)
        .map_or(Tone::Neutral, |(tone, _)| *tone)
}

/// A template reply, the same for the same note.
pub fn template_reply(note: &str, mood: Option<&str>) -> String {
    let templates = match tone_of(note, mood) {
        Tone::Bright => BRIGHT,
        Tone::Heavy => HEAVY,
        Tone::Tense => TENSE,
        Tone::Tired => TIRED,
        Tone::Neutral => NEUTRAL,
    };
    templates[(fnv1a(note) % templates.len() as u64) as usize].to_owned()
}

impl VibeCheck for RulesBackend {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn reply<'a>(
        &'a self,
        request: VibeRequest<'a>,
        _deltas: Option<mpsc::Sender<String>>,
    ) -> BoxFuture<'a, Result<String, BackendError>> {
        Box::pin(async move { Ok(template_reply(request.note, request.mood)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vibe::output;

    #[test]
    fn the_tone_follows_the_mood_and_the_words() {
        assert_eq!(
            tone_of("I felt so anxious about the deadline at work", None),
            Tone::Tense
        );
        assert_eq!(tone_of("Walked in the park", Some("happy")), Tone::Bright);
        assert_eq!(
            tone_of("I was so tired after the long shift", None),
            Tone::Tired
        );
        assert_eq!(
            tone_of("Went to the shop and came back", None),
            Tone::Neutral
        );
        assert_eq!(
            tone_of("Dinner with my sister made me laugh until I cried", None),
            Tone::Bright
        );
    }

    #[test]
    fn every_template_passes_the_output_check() {
        for template in [BRIGHT, HEAVY, TENSE, TIRED, NEUTRAL].concat() {
            assert_eq!(
                output::check(template).as_deref(),
                Some(template),
                "{template}"
            );
        }
    }

    #[test]
    fn the_same_note_gets_the_same_reply() {
        let note = "A calm and quiet day with a long walk by the river and some reading.";
        assert_eq!(
            template_reply(note, Some("calm")),
            template_reply(note, Some("calm"))
        );
    }
}
