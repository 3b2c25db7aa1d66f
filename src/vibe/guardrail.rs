//! Crisis language detection. When it fires, the note never leaves the server and
//! the answer is the contract's disclaimer. It errs towards firing: negation does
//! not silence it, because a missed crisis costs far more than an unneeded disclaimer.
//!
//! Text is normalised (NFKC, lower case, apostrophes and zero-width characters
//! dropped) and split into words in three ways: at every non-letter, with joiners
//! inside words removed (`sui-cide`, `self.harm`), and with runs of single letters
//! joined (`s u i c i d e`). Phrases then match whole words in any of them.

use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

pub const DISCLAIMER: &str =
    "If you're feeling unsafe or overwhelmed, please consider reaching out to someone you trust or a local support service.";

/// Each phrase is words separated by spaces; `a|b` lists alternatives and a
/// trailing `*` matches any word starting with the stem.
const PHRASES: &[&str] = &[
    "suicid*",
    "suizid*",
    "kill|killing|killed myself|meself",
    "kill|killing my self",
    "killmyself",
    "end|ending|ended my|this life",
    "end|ending|ended it all",
    "take|taking my own life",
    "take|taking my life",
    "self harm*",
    "selfharm*",
    "self injur*",
    "selfinjur*",
    "harm|harming|hurt|hurting|cut|cutting|injure|injuring|burn|burning myself",
    "want|wanted|wanting|going to die",
    "wanna die",
    "want|wanted|wanting to be dead",
    "ready to die",
    "wish|wished i|id was|were dead",
    "wish|wished i|id could be dead",
    "wish|wished i|id could die",
    "wish|wished i|id never woke up",
    "wish|wished i|id wasnt|werent alive|born",
    "wish|wished i|id was|were not alive|born",
    "never been born",
    "dont|didnt|not want|wanna to live|exist",
    "dont|didnt|not wanna live|exist",
    "dont|didnt|not want to be alive",
    "no longer want to live|exist",
    "no longer want to be alive",
    "no reason to live",
    "nothing to live for",
    "not worth living",
    "better off dead",
    "better off without me",
    "hang|hanging|shoot|shooting|drown|drowning|poison|poisoning myself",
    "overdos*",
    "slit|slitting my wrists|wrist|throat",
    "jump|jumping off a|the bridge|building|roof",
    "cant go on living",
    "quiero morir*",
    "quiero matarme",
    "ich will sterben",
    "ich will nicht mehr leben",
    "je veux mourir",
    "me matar",
    "quero morrer",
    "chce umrzec",
    "chce umrzeć",
];

struct Phrase {
    words: Vec<Vec<WordPattern>>,
}

enum WordPattern {
    Exact(String),
    Prefix(String),
}

impl WordPattern {
    fn matches(&self, word: &str) -> bool {
        match self {
            Self::Exact(exact) => word == exact,
            Self::Prefix(stem) => word.starts_with(stem.as_str()),
        }
    }
}

static COMPILED: LazyLock<Vec<Phrase>> = LazyLock::new(|| {
    PHRASES
        .iter()
        .map(|phrase| Phrase {
            words: phrase
                .split(' ')
                .map(|slot| {
                    slot.split('|')
                        .map(|alt| match alt.strip_suffix('*') {
                            Some(stem) => WordPattern::Prefix(stem.to_owned()),
                            None => WordPattern::Exact(alt.to_owned()),
                        })
                        .collect()
                })
                .collect(),
        })
        .collect()
});

/// Whether the text holds crisis language.
pub fn is_crisis(text: &str) -> bool {
    let normalised = normalise(text);
    word_views(&normalised)
        .iter()
        .any(|words| COMPILED.iter().any(|phrase| phrase_in(phrase, words)))
}

fn phrase_in(phrase: &Phrase, words: &[String]) -> bool {
    let len = phrase.words.len();
    len <= words.len()
        && words.windows(len).any(|window| {
            window
                .iter()
                .zip(&phrase.words)
                .all(|(word, alternatives)| alternatives.iter().any(|alt| alt.matches(word)))
        })
}

/// NFKC, lower case, no zero-width characters, no apostrophes ("don't" is "dont").
fn normalise(text: &str) -> String {
    text.nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| {
            !matches!(
                c,
                '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
            )
        })
        .filter(|c| !matches!(c, '\'' | '’' | '‘' | '`' | '´' | 'ʼ'))
        .collect()
}

/// The three ways of reading words out of normalised text.
fn word_views(text: &str) -> [Vec<String>; 3] {
    let plain = split_words(text);
    let joined = split_words(&remove_joiners(text));
    let letters_joined = join_single_letters(&plain);
    [plain, joined, letters_joined]
}

fn split_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Drops punctuation between two letters: `sui-cide`, `self.harm`, `k*ll` read as one word.
fn remove_joiners(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let is_joiner = !c.is_alphanumeric() && !c.is_whitespace();
        let between_letters = i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|next| next.is_alphanumeric());
        if !(is_joiner && between_letters) {
            out.push(c);
        }
    }
    out
}

/// Runs of three or more one-letter words become one word: `s u i c i d e`.
fn join_single_letters(words: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut run: Vec<&str> = Vec::new();
    let flush = |run: &mut Vec<&str>, out: &mut Vec<String>| {
        if run.len() >= 3 {
            out.push(run.concat());
        } else {
            out.extend(run.iter().map(|w| w.to_string()));
        }
        run.clear();
    };
    for word in words {
        if word.chars().count() == 1 {
            run.push(word);
        } else {
            flush(&mut run, &mut out);
            out.push(word.clone());
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, note): each must trigger the guardrail.
    const CRISIS: &[(&str, &str)] = &[
        ("plain_suicide", "I keep thinking about suicide lately"),
        ("suicidal", "I have been feeling suicidal all week"),
        ("upper_case_suicide", "SUICIDE is on my mind"),
        ("hyphenated_suicide", "thinking about sui-cide again"),
        ("spaced_suicide", "s u i c i d e"),
        ("dotted_suicide", "s.u.i.c.i.d.e"),
        ("kill_myself", "I want to kill myself"),
        ("kill_myself_shouted", "KILL MYSELF!!"),
        ("kill_myself_spaced", "i could just kill   myself"),
        ("kill_my_self", "sometimes I want to kill my self"),
        ("killing_myself", "I keep thinking about killing myself"),
        ("self_harm", "I went back to self harm last night"),
        (
            "self_harm_capitalised_hyphen",
            "Self-Harm is back in my life",
        ),
        ("self_harm_double_space", "self  harm again"),
        ("selfharm_one_word", "selfharm helps me cope"),
        ("self_harming", "I have been self-harming"),
        ("want_to_die", "I just want to die"),
        ("wanna_die", "honestly i wanna die"),
        ("want_to_die_punctuated", "I want... to die."),
        ("end_my_life", "I am going to end my life"),
        ("end_it_all", "I think I will end it all tonight"),
        ("take_my_own_life", "I might take my own life"),
        ("dont_want_to_live", "I don't want to live anymore"),
        ("do_not_want_to_live", "I do not want to live like this"),
        ("dont_want_to_be_alive", "i dont want to be alive"),
        ("curly_apostrophe", "I don’t want to live any more"),
        ("no_reason_to_live", "There is no reason to live"),
        (
            "better_off_dead",
            "Everyone would be better off if I were dead, I'd be better off dead",
        ),
        (
            "better_off_without_me",
            "my family would be better off without me",
        ),
        ("hurt_myself", "I want to hurt myself"),
        ("cutting_myself", "I started cutting myself again"),
        ("cut_myself", "I cut myself yesterday"),
        ("overdose", "I thought about taking an overdose"),
        ("overdosing", "thinking about overdosing on my pills"),
        ("wish_i_was_dead", "I wish I was dead"),
        ("wish_i_wasnt_alive", "I wish I wasn't alive"),
        (
            "never_wake_up",
            "I wish I'd never wake up, wish I never woke up",
        ),
        ("negated_still_fires", "I'm not suicidal, just tired"),
        ("zero_width", "sui\u{200B}cide"),
        ("fullwidth", "ｓｕｉｃｉｄｅ"),
        ("nothing_to_live_for", "I have nothing to live for"),
        ("hang_myself", "I want to hang myself"),
        ("jump_off_bridge", "I thought about jumping off the bridge"),
        ("never_born", "I wish I had never been born"),
        ("spanish", "a veces quiero morir"),
        ("german", "ich will nicht mehr leben"),
    ];

    /// (name, note): everyday phrases with tricky words that must not trigger it.
    const EVERYDAY: &[(&str, &str)] = &[
        ("diet", "I want to diet after the holidays"),
        ("workout_killing_me", "this workout is killing me"),
        ("phone_died", "my phone died during the call"),
        ("dying_to_see", "I'm dying to see the movie"),
        ("to_die_for", "this chocolate cake is to die for"),
        ("killer_workout", "killer workout at the gym today"),
        ("kill_time", "we played cards to kill time"),
        ("suspense", "the suspense is killing me"),
        ("dead_tired", "I'm dead tired after work"),
        ("deadline", "the deadline is tomorrow and I'm stressed"),
        ("cut_vegetables", "I cut the vegetables for dinner"),
        ("cutting_sugar", "cutting back on sugar this month"),
        ("hurt_knee", "I hurt my knee while running"),
        ("harmless", "it was a harmless joke"),
        ("self_care", "self-care sunday with a face mask"),
        ("self_help", "reading a self help book"),
        ("die_hard", "watched Die Hard with my brother"),
        (
            "end_of_life",
            "at the end of my life I want to remember days like this",
        ),
        ("end_of_day", "by the end of the day I was happy"),
        ("overdue", "my library books are overdue"),
        ("over_dose_of_sun", "a big dose of sunshine today"),
        ("living_room", "we painted the living room"),
        ("live_concert", "I want to live in Lisbon someday"),
        ("skill", "I learned the skill myself"),
        ("dye", "I want to dye my hair"),
        ("dice", "we rolled the dice at game night"),
        ("killed_it", "I killed it at the presentation"),
        ("murdered", "my team murdered the quiz"),
        ("drop_dead", "the view was drop dead gorgeous"),
        ("died_laughing", "I almost died laughing"),
        ("battery", "laptop battery died again"),
        ("plant_died", "my basil plant died"),
        ("bridge_walk", "we walked across the bridge at sunset"),
        ("jump_rope", "I did jump rope and felt great"),
        ("cuticle", "cut my hair and my nails"),
        ("harm_reduction", "I read about harm reduction in policy"),
        ("myself", "I made dinner myself and felt proud"),
        ("kilometres", "ran 5 kms this morning"),
        (
            "german_everyday",
            "Heute war ein schöner Tag im Park mit meinen Freunden",
        ),
        (
            "spanish_everyday",
            "Hoy quiero morder una manzana y descansar",
        ),
        ("alive_happy", "I feel so alive after the hike"),
        ("exist", "I want to exist in this moment forever"),
    ];

    #[test]
    fn every_crisis_note_triggers_the_guardrail() {
        let missed: Vec<&str> = CRISIS
            .iter()
            .filter(|(_, note)| !is_crisis(note))
            .map(|(name, _)| *name)
            .collect();
        assert!(missed.is_empty(), "missed: {missed:?}");
        assert!(CRISIS.len() >= 40);
    }

    #[test]
    fn no_everyday_note_triggers_the_guardrail() {
        let fired: Vec<&str> = EVERYDAY
            .iter()
            .filter(|(_, note)| is_crisis(note))
            .map(|(name, _)| *name)
            .collect();
        assert!(fired.is_empty(), "fired: {fired:?}");
        assert!(EVERYDAY.len() >= 40);
    }

    #[test]
    fn the_disclaimer_is_the_contracts_text() {
        assert_eq!(
            DISCLAIMER,
            "If you're feeling unsafe or overwhelmed, please consider reaching out to someone you trust or a local support service."
        );
    }
}
