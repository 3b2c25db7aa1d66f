//! The output check in front of a streamed reply: text reaches the client only
//! after it has passed. The model's deltas are held until a sentence is complete;
//! the sentences so far are then checked as the whole reply would be, and only
//! then released, word by word. Unsafe text anywhere in what would be shown,
//! a partial sentence included, stops the release at once; the two-sentence
//! limit ends the reply early.
//!
//! Every released word is a prefix of `output::check` of the whole upstream
//! reply, so the streamed and the plain endpoints end on the same answer.

use super::output;

/// What the pipeline does after feeding the gate.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these pieces (each a word with the white space before it), then go on.
    Release(Vec<String>),
    /// The reply is decided before the model has finished: `Some` is the checked
    /// answer (the two-sentence limit was reached), `None` means replace it.
    Decided(Option<String>),
}

#[derive(Default)]
pub struct SentenceGate {
    /// Everything the model sent so far.
    text: String,
    /// The prefix of the final answer already sent to the client.
    released: String,
}

impl SentenceGate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one delta from the model.
    pub fn push(&mut self, delta: &str) -> Step {
        self.text.push_str(delta);
        let shown = output::shown_part(&self.text);
        if output::is_unsafe_prefix(shown.checked_text) {
            return Step::Decided(None);
        }
        if shown.complete_sentences == 0 {
            return Step::Release(Vec::new());
        }
        let answer = match output::check(shown.complete_text) {
            Some(answer) => answer,
            None => return Step::Decided(None),
        };
        if shown.limit_reached {
            return Step::Decided(Some(answer));
        }
        Step::Release(self.release_up_to(&answer))
    }

    /// The model has finished with `reply` (the whole text, which backends that do
    /// not stream give only here). Returns the last pieces and the final answer.
    pub fn finish(&mut self, reply: &str) -> (Vec<String>, Option<String>) {
        match output::check(reply) {
            Some(answer) => (self.release_up_to(&answer), Some(answer)),
            None => (Vec::new(), None),
        }
    }

    /// The words of `answer` not yet released, if what was released is its prefix
    /// (it always is; if not, nothing more is sent and `done` carries the answer).
    fn release_up_to(&mut self, answer: &str) -> Vec<String> {
        let Some(rest) = answer.strip_prefix(self.released.as_str()) else {
            return Vec::new();
        };
        let pieces = words_with_leading_space(rest);
        self.released.push_str(rest);
        pieces
    }
}

/// `" like a gentle"` -> `[" like", " a", " gentle"]`: joined, the same text.
fn words_with_leading_space(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() && in_word {
            pieces.push(std::mem::take(&mut current));
            in_word = false;
        }
        if !c.is_whitespace() {
            in_word = true;
        }
        current.push(c);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(deltas: &[&str]) -> (Vec<String>, Option<Option<String>>) {
        let mut gate = SentenceGate::new();
        let mut sent = Vec::new();
        for delta in deltas {
            match gate.push(delta) {
                Step::Release(pieces) => sent.extend(pieces),
                Step::Decided(answer) => return (sent, Some(answer)),
            }
        }
        let (last, answer) = gate.finish(&deltas.concat());
        sent.extend(last);
        (sent, Some(answer))
    }

    #[test]
    fn nothing_is_released_before_a_sentence_is_complete() {
        let mut gate = SentenceGate::new();
        assert_eq!(gate.push("It sounds like"), Step::Release(vec![]));
        assert_eq!(gate.push(" a gentle evening."), Step::Release(vec![]));
        assert_eq!(
            gate.push(" Enjoy"),
            Step::Release(vec![
                "It".into(),
                " sounds".into(),
                " like".into(),
                " a".into(),
                " gentle".into(),
                " evening.".into()
            ])
        );
    }

    #[test]
    fn a_safe_reply_is_released_whole_and_matches_the_plain_check() {
        let deltas = [
            "It sounds",
            " like a gentle",
            " evening.",
            " Enjoy the quiet.",
        ];
        let (sent, answer) = feed(&deltas);
        let expected = output::check(&deltas.concat());
        assert_eq!(answer, Some(expected.clone()));
        assert_eq!(sent.concat(), expected.unwrap());
    }

    #[test]
    fn an_unsafe_second_sentence_is_never_released() {
        let deltas = [
            "You had a long day.",
            " This sounds like",
            " clinical depression.",
            " Rest.",
        ];
        let (sent, answer) = feed(&deltas);
        assert_eq!(sent.concat(), "You had a long day.");
        assert_eq!(answer, Some(None));
        assert_eq!(output::check(&deltas.concat()), None, "plain agrees");
    }

    #[test]
    fn a_prompt_leak_split_mid_word_stops_the_release_before_its_sentence_ends() {
        let mut gate = SentenceGate::new();
        assert_eq!(gate.push("My sys"), Step::Release(vec![]));
        assert_eq!(gate.push("tem pro"), Step::Release(vec![]));
        assert_eq!(gate.push("mpt says"), Step::Decided(None));
    }

    #[test]
    fn a_word_that_only_starts_like_crisis_language_waits_for_its_end() {
        let (sent, answer) = feed(&["I hope you get to die", "t in peace after the holidays."]);
        assert!(answer.clone().flatten().is_some(), "{answer:?}");
        assert_eq!(
            sent.concat(),
            "I hope you get to diet in peace after the holidays."
        );
    }

    #[test]
    fn the_two_sentence_limit_ends_the_reply_early() {
        let mut gate = SentenceGate::new();
        let _ = gate.push("One fine day. Two fine days.");
        assert_eq!(
            gate.push(" Three"),
            Step::Decided(Some("One fine day. Two fine days.".into()))
        );
    }

    #[test]
    fn a_backend_that_does_not_stream_is_released_at_the_end() {
        let mut gate = SentenceGate::new();
        let (pieces, answer) = gate.finish("Well done today. Rest now.");
        assert_eq!(pieces.concat(), "Well done today. Rest now.");
        assert_eq!(answer.as_deref(), Some("Well done today. Rest now."));
    }
}
