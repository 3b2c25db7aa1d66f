//! An offline stand-in for a model: deterministic, aware of the mood and of a
//! few topics, and streaming its reply word by word like a real model would.

use std::time::Duration;

use tokio::sync::mpsc;

use super::rules::{tone_of, Tone};
use super::{fnv1a, BackendError, BoxFuture, VibeCheck, VibeRequest};

/// Pause between streamed words, so a client sees the reply arrive in pieces.
const STREAM_WORD_DELAY: Duration = Duration::from_millis(15);

pub struct MockBackend {
    delay: Duration,
}

impl MockBackend {
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }
}

const TOPICS: &[(&[&str], &str)] = &[
    (
        &[
            "work", "job", "boss", "meeting", "office", "deadline", "project",
        ],
        "Work can take up so much room; it's fair to leave some of it at the door tonight.",
    ),
    (
        &["sleep", "slept", "insomnia", "tired", "exhausted", "bed"],
        "A gentle evening and an early night might be a kind thing to offer yourself.",
    ),
    (
        &[
            "friend", "friends", "family", "mom", "dad", "mother", "father", "sister", "brother",
            "partner",
        ],
        "The people around you clearly matter, and that connection is worth cherishing.",
    ),
    (
        &["run", "walk", "gym", "exercise", "yoga", "swim", "hike"],
        "Moving your body like that is a lovely way to look after yourself.",
    ),
    (
        &["study", "exam", "school", "class", "homework", "university"],
        "Learning takes effort, and you're putting it in one day at a time.",
    ),
];

fn opening(tone: Tone, mood: Option<&str>) -> String {
    match (tone, mood) {
        (Tone::Bright, Some(mood)) => format!("It's lovely that you're feeling {mood} today."),
        (Tone::Bright, None) => "It's lovely to hear there was something good in your day.".into(),
        (Tone::Heavy, _) => "That sounds like a heavy day, and it's okay to feel it.".into(),
        (Tone::Tense, _) => "It sounds like a lot is pressing on you right now.".into(),
        (Tone::Tired, _) => "It sounds like your energy has been stretched thin.".into(),
        (Tone::Neutral, Some(mood)) => format!("Thanks for checking in while feeling {mood}."),
        (Tone::Neutral, None) => "Thanks for taking a moment to check in with yourself.".into(),
    }
}

/// The reply for a note: an opening for its tone, then a line for its topic.
pub fn mock_reply(note: &str, mood: Option<&str>) -> String {
    let lower = note.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
    let topic = TOPICS
        .iter()
        .find(|(keys, _)| words.iter().any(|w| keys.contains(w)))
        .map(|(_, line)| *line);
    let fallback = [
        "Be gentle with yourself as the day winds down.",
        "Whatever comes next, you're allowed to take it slowly.",
    ];
    let second = topic.unwrap_or(fallback[(fnv1a(note) % 2) as usize]);
    let mood = mood
        .map(str::trim)
        .filter(|m| !m.is_empty() && m.len() <= 32);
    format!("{} {second}", opening(tone_of(note, mood), mood))
}

impl VibeCheck for MockBackend {
    fn name(&self) -> &'static str {
        "mock"
    }

    fn model(&self) -> Option<&str> {
        Some("serene-mock")
    }

    fn reply<'a>(
        &'a self,
        request: VibeRequest<'a>,
        deltas: Option<mpsc::Sender<String>>,
    ) -> BoxFuture<'a, Result<String, BackendError>> {
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            let reply = mock_reply(request.note, request.mood);
            if let Some(deltas) = deltas {
                for (i, word) in reply.split(' ').enumerate() {
                    let piece = if i == 0 {
                        word.to_owned()
                    } else {
                        format!(" {word}")
                    };
                    if deltas.send(piece).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(STREAM_WORD_DELAY).await;
                }
            }
            Ok(reply)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vibe::output;

    #[test]
    fn the_reply_mentions_the_mood_and_the_topic() {
        let reply = mock_reply(
            "Had a great time with friends at the lake, we laughed all afternoon long.",
            Some("happy"),
        );
        assert!(reply.contains("happy"), "{reply}");
        assert!(reply.contains("people around you"), "{reply}");
    }

    #[test]
    fn replies_are_deterministic_and_pass_the_output_check() {
        let note = "Work was stressful again and the deadline keeps moving closer every day.";
        let reply = mock_reply(note, Some("anxious"));
        assert_eq!(reply, mock_reply(note, Some("anxious")));
        assert_eq!(output::check(&reply).as_deref(), Some(reply.as_str()));
    }

    #[tokio::test]
    async fn streaming_sends_the_reply_in_pieces_that_add_up() {
        let (tx, mut rx) = mpsc::channel(64);
        let backend = MockBackend::new(Duration::ZERO);
        let note = "Went for a long walk by the sea and felt the wind clear my head a bit.";
        let reply = backend
            .reply(
                VibeRequest {
                    note,
                    mood: Some("calm"),
                    deadline: tokio::time::Instant::now() + Duration::from_secs(5),
                },
                Some(tx),
            )
            .await
            .unwrap();
        let mut joined = String::new();
        let mut pieces = 0;
        while let Some(piece) = rx.recv().await {
            joined.push_str(&piece);
            pieces += 1;
        }
        assert!(pieces > 3);
        assert_eq!(joined, reply);
    }
}
