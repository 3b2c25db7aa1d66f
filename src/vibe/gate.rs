//! The output check in front of a streamed reply: model text reaches the client
//! only after it has passed. Deltas are held until a sentence is complete; the
//! complete sentences are then checked as the whole reply would be, and only then
//! released, word by word. Unsafe words in the first sentence, even before it is
//! complete, stop the release for good; nothing is released past two sentences.
//!
//! The gate only decides what may be shown early. The final answer is always
//! `output::check` of the whole upstream reply, the same as the plain endpoint's;
//! when the release stopped early, `done` carries the replacement.

use super::output;

/// Text kept beyond this many bytes is not needed to decide anything: the shown
/// part is at most two sentences of 300 characters.
const MAX_INSPECTED_BYTES: usize = 4 * 1024;

#[derive(Default)]
pub struct SentenceGate {
    /// Everything the model sent so far (inspected up to the limit above).
    text: String,
    /// The prefix of the answer already sent to the client.
    released: String,
    /// Nothing more is released before the reply is complete.
    stopped: bool,
}

impl SentenceGate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one delta; returns the pieces that may be shown now.
    pub fn push(&mut self, delta: &str) -> Vec<String> {
        if self.stopped {
            return Vec::new();
        }
        self.text.push_str(delta);
        if self.text.len() > MAX_INSPECTED_BYTES {
            self.stopped = true;
            return Vec::new();
        }
        // Quotes around the reply are the output check's to remove, as for the whole.
        let text = self.text.as_str();
        let (sentences, end) = output::complete_sentences(text);
        if sentences == 0 {
            // The first sentence is shown whatever follows it, so an unsafe word in
            // it, or a length past the limit, already decides the answer.
            if output::is_unsafe_prefix(text) || text.trim().chars().count() > output::MAX_CHARS {
                self.stopped = true;
            }
            return Vec::new();
        }
        // Whether a second sentence is shown depends on its length, known only
        // once it is complete: a partial second sentence is held, never judged.
        // The complete sentences are the whole reply so far: the same check applies.
        let answer = output::check(&text[..end]);
        if sentences >= 2 {
            self.stopped = true;
        }
        match answer {
            Some(answer) => self.release_up_to(&answer),
            None => {
                self.stopped = true;
                Vec::new()
            }
        }
    }

    /// The model has finished with `reply` (the whole text, which backends that do
    /// not stream give only here). Returns the last pieces to show and the answer.
    pub fn finish(&mut self, reply: &str) -> (Vec<String>, Option<String>) {
        match output::check(reply) {
            Some(answer) => (self.release_up_to(&answer), Some(answer)),
            None => (Vec::new(), None),
        }
    }

    /// The words of `answer` not yet released, if what was released is its prefix
    /// (when not, nothing more is sent and `done` carries the answer).
    fn release_up_to(&mut self, answer: &str) -> Vec<String> {
        let Some(rest) = answer.strip_prefix(self.released.as_str()) else {
            self.stopped = true;
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

    /// What a client sees: the released pieces, then the final answer.
    fn stream(deltas: &[&str]) -> (String, Option<String>) {
        let mut gate = SentenceGate::new();
        let mut sent: Vec<String> = deltas.iter().flat_map(|d| gate.push(d)).collect();
        let (last, answer) = gate.finish(&deltas.concat());
        sent.extend(last);
        (sent.concat(), answer)
    }

    #[test]
    fn nothing_is_released_before_a_sentence_is_complete() {
        let mut gate = SentenceGate::new();
        assert!(gate.push("It sounds like").is_empty());
        assert!(gate.push(" a gentle evening.").is_empty());
        assert_eq!(
            gate.push(" Enjoy"),
            ["It", " sounds", " like", " a", " gentle", " evening."]
        );
    }

    #[test]
    fn a_safe_reply_is_released_whole_and_ends_on_the_plain_answer() {
        let deltas = [
            "It sounds",
            " like a gentle",
            " evening.",
            " Enjoy the quiet.",
        ];
        let (sent, answer) = stream(&deltas);
        assert_eq!(answer, output::check(&deltas.concat()));
        assert_eq!(Some(sent), answer);
    }

    #[test]
    fn an_unsafe_second_sentence_is_never_released() {
        let deltas = [
            "You had a long day.",
            " This sounds like",
            " clinical depression.",
            " Rest.",
        ];
        let (sent, answer) = stream(&deltas);
        assert_eq!(sent, "You had a long day.");
        assert_eq!(answer, None);
        assert_eq!(output::check(&deltas.concat()), None, "plain agrees");
    }

    #[test]
    fn a_prompt_leak_split_mid_word_stops_the_release_before_its_sentence_ends() {
        let mut gate = SentenceGate::new();
        assert!(gate.push("My sys").is_empty());
        assert!(gate.push("tem pro").is_empty());
        assert!(gate.push("mpt says").is_empty());
        assert!(gate.stopped);
    }

    #[test]
    fn a_word_that_only_starts_like_crisis_language_waits_for_its_end() {
        let (sent, answer) = stream(&["I hope you get to die", "t in peace after the holidays."]);
        assert_eq!(Some(sent), answer);
        let (sent, answer) = stream(&[
            "Sounds like you want to die\u{00AD}",
            "t after the holidays. Enjoy.",
        ]);
        assert_eq!(Some(sent), answer);
    }

    #[test]
    fn nothing_is_released_past_two_sentences_and_the_answer_is_the_plain_one() {
        let deltas = ["One fine day. Two fine days.", " Three", " and more."];
        let (sent, answer) = stream(&deltas);
        assert_eq!(sent, "One fine day. Two fine days.");
        assert_eq!(answer, output::check(&deltas.concat()));
    }

    #[test]
    fn a_second_sentence_that_the_length_rule_drops_does_not_change_the_answer() {
        let first = format!(
            "You had a long day and still made time for friends{}.",
            " truly".repeat(10)
        );
        let second = format!(
            " A little therapy of your own{} would help.",
            ", like a bath".repeat(20)
        );
        let deltas = [first.as_str(), second.as_str(), " Rest."];
        let (sent, answer) = stream(&deltas);
        assert_eq!(answer, output::check(&deltas.concat()));
        assert_eq!(answer.as_deref(), Some(first.as_str()));
        assert_eq!(sent, first);
    }

    #[test]
    fn quotes_end_the_same_way_streamed_and_plain() {
        for reply in [
            "You did well today. As you said, \"slow down.\" Rest now.",
            "“You did well.” “Rest now.” Three.",
            "\" \"Hello there.\" Bye now. Three more.",
        ] {
            let deltas: Vec<String> = reply.split_inclusive(' ').map(str::to_owned).collect();
            let deltas: Vec<&str> = deltas.iter().map(String::as_str).collect();
            let (sent, answer) = stream(&deltas);
            assert_eq!(answer, output::check(reply), "{reply}");
            assert_eq!(Some(sent), answer, "{reply}");
        }
    }

    #[test]
    fn a_reply_without_sentence_ends_is_inspected_only_up_to_a_bound() {
        let mut gate = SentenceGate::new();
        for _ in 0..20_000 {
            assert!(gate.push(" calm").is_empty());
        }
        assert!(gate.text.len() <= MAX_INSPECTED_BYTES + 8);
    }

    #[test]
    fn a_backend_that_does_not_stream_is_released_at_the_end() {
        let mut gate = SentenceGate::new();
        let (pieces, answer) = gate.finish("Well done today. Rest now.");
        assert_eq!(pieces.concat(), "Well done today. Rest now.");
        assert_eq!(answer.as_deref(), Some("Well done today. Rest now."));
    }
}
