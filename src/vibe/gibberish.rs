//! Tells keyboard mashing and filler from real notes, in any language.
//!
//! Only clear signals count: no letters at all, one or two repeated characters,
//! a short pattern repeated, keyboard-row runs, or Latin text without the vowel
//! and word shapes every Latin-script language has. Text in other scripts is
//! never called gibberish on shape alone.

/// Three-letter runs along the rows of QWERTY, QWERTZ and AZERTY keyboards.
const KEYBOARD_ROWS: &[&str] = &[
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertzuiop",
    "yxcvbnm",
    "azertyuiop",
    "qsdfghjklm",
    "wxcvbn",
];

pub fn is_gibberish(text: &str) -> bool {
    let letters: Vec<char> = text
        .chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    if letters.len() < 3 {
        return true;
    }
    let digits_and_punctuation = text
        .chars()
        .filter(|c| c.is_numeric() || c.is_ascii_punctuation())
        .count();
    if letters.len() < digits_and_punctuation {
        return true;
    }
    let mut distinct = letters.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() <= 3 {
        return true;
    }
    if is_repetitive(&letters) {
        return true;
    }
    let latin = letters.iter().filter(|c| is_latin(**c)).count();
    if latin * 10 < letters.len() * 8 {
        // Mostly another script: nothing more we can tell reliably.
        return false;
    }
    keyboard_run_share(&letters) > 0.3 || has_foreign_shape(text)
}

/// A short pattern repeated over and over ("hahaha...", "asdasdasd...").
fn is_repetitive(letters: &[char]) -> bool {
    if letters.len() < 20 {
        return false;
    }
    let mut trigrams: Vec<&[char]> = letters.windows(3).collect();
    let total = trigrams.len();
    trigrams.sort_unstable();
    trigrams.dedup();
    (trigrams.len() as f64) / (total as f64) < 0.2
}

/// The share of letter triples that run along a keyboard row.
fn keyboard_run_share(letters: &[char]) -> f64 {
    let rows: Vec<Vec<char>> = KEYBOARD_ROWS.iter().map(|r| r.chars().collect()).collect();
    let on_row = |w: &[char]| {
        rows.iter().any(|row| {
            row.windows(3)
                .any(|r| r == w || (r[2] == w[0] && r[1] == w[1] && r[0] == w[2]))
        })
    };
    let windows: Vec<&[char]> = letters.windows(3).collect();
    let runs = windows.iter().filter(|w| on_row(w)).count();
    runs as f64 / windows.len().max(1) as f64
}

/// Latin-script text whose words lack vowels or are implausibly long.
fn has_foreign_shape(text: &str) -> bool {
    let words: Vec<Vec<char>> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().flat_map(char::to_lowercase).collect())
        .collect();
    let letters: usize = words.iter().map(Vec::len).sum();
    let vowels = words.iter().flatten().filter(|c| is_vowel(**c)).count();
    let vowel_share = vowels as f64 / letters.max(1) as f64;
    if !(0.2..=0.75).contains(&vowel_share) {
        return true;
    }
    let long_letters: usize = words.iter().filter(|w| w.len() > 24).map(Vec::len).sum();
    if long_letters * 2 > letters {
        return true;
    }
    let voweless = words
        .iter()
        .filter(|w| w.len() >= 4 && !w.iter().any(|c| is_vowel(*c)))
        .count();
    let clustered = words
        .iter()
        .filter(|w| longest_consonant_run(w) >= 6)
        .count();
    (voweless + clustered) * 10 > words.len() * 3
}

fn longest_consonant_run(word: &[char]) -> usize {
    word.split(|c| is_vowel(*c))
        .map(<[char]>::len)
        .max()
        .unwrap_or(0)
}

fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c)
}

fn is_vowel(c: char) -> bool {
    matches!(
        c,
        'a' | 'e'
            | 'i'
            | 'o'
            | 'u'
            | 'y'
            | 'á'
            | 'à'
            | 'â'
            | 'ä'
            | 'ã'
            | 'å'
            | 'ą'
            | 'é'
            | 'è'
            | 'ê'
            | 'ë'
            | 'ę'
            | 'í'
            | 'ì'
            | 'î'
            | 'ï'
            | 'ó'
            | 'ò'
            | 'ô'
            | 'ö'
            | 'õ'
            | 'ø'
            | 'ú'
            | 'ù'
            | 'û'
            | 'ü'
            | 'ý'
            | 'ÿ'
            | 'æ'
            | 'œ'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &[(&str, &str)] = &[
        ("english", "Today was a long day at work, but I managed to finish the report and go for a walk."),
        ("english_short_words", "I am ok. It is what it is. We go on and do our best in a bad week."),
        ("german", "Heute war ein anstrengender Tag, aber am Abend habe ich mit meiner Schwester telefoniert."),
        ("german_compounds", "Die Steuererklärung und die Krankenversicherungsunterlagen haben mich den ganzen Nachmittag beschäftigt."),
        ("spanish", "Hoy me sentí tranquilo después de caminar por el parque con mi perro durante una hora."),
        ("french", "Aujourd'hui j'ai pris le temps de lire un bon livre au soleil, et ça m'a fait du bien."),
        ("portuguese", "Hoje acordei cedo, tomei um café com minha mãe e conversamos sobre as férias de verão."),
        ("polish", "Dzisiaj było zimno, ale spotkałem się z przyjaciółmi w Szczebrzeszynie i pośmialiśmy się."),
        ("polish_clusters", "Chrząszcz brzmi w trzcinie, a ja wczoraj przeszedłem przez park pełen zmarzniętych drzew."),
        ("names", "Met Krzysztof, Siobhan, Ngozi, Thandiwe and Xiaoming at Brzęczyszczykiewicz's party in Wrocław."),
        ("emoji", "Such a lovely afternoon 😊🌞 we baked cookies 🍪 and watched movies together 🎬❤️"),
        ("japanese", "今日は友達と公園に行って、とても楽しい一日を過ごしました。夜はゆっくり休みます。"),
        ("russian", "Сегодня был трудный день, но вечером я погулял с собакой и почувствовал себя лучше."),
        ("numbers_in_text", "Ran 10 km in 55 minutes, then slept 8 hours. Best week of 2026 so far, honestly."),
    ];

    const GIBBERISH: &[(&str, &str)] = &[
        (
            "home_row",
            "asdfghjkl asdfghjkl asdfghjkl asdfghjkl asdfghjkl asdfghjkl",
        ),
        (
            "mashed",
            "asdkjfh askjdfh aksjdhf kajshdf kjahsdf kjhasdkfjh askdjfh aksjdhf",
        ),
        (
            "top_row",
            "qwertyuiop qwerty uiop qwer tyui qwertyuiop poiuytrewq qwert",
        ),
        (
            "one_character",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        (
            "two_characters",
            "ababababababababababababababababababababababababab",
        ),
        (
            "repeated_pattern",
            "lolololololol lolololol lololololol lololololol lolololo",
        ),
        (
            "digits_only",
            "12345678901234567890123456789012345678901234567890",
        ),
        (
            "punctuation_only",
            "!!!!!!!!!!....?????,,,,,,;;;;;;;;------------!!!!!!!!",
        ),
        (
            "consonant_soup",
            "xkcd zzzt prrrt bvnm kdjfhg wrtzpl mnbvcx qzxwv lkjhgf gfdsa",
        ),
        (
            "no_spaces",
            "jdkfjgkdjfgkdjfgkjdfkgjdkfjgkdfjgkjdfkgjdkfgjkdfjgkdjfgkj",
        ),
        (
            "emoji_only",
            "😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊😊",
        ),
        (
            "azerty_row",
            "azertyuiop qsdfghjklm wxcvbn azerty qsdfgh wxcvbn azertyuiop",
        ),
    ];

    #[test]
    fn real_notes_are_not_gibberish() {
        let flagged: Vec<&str> = REAL
            .iter()
            .filter(|(_, t)| is_gibberish(t))
            .map(|(n, _)| *n)
            .collect();
        assert!(flagged.is_empty(), "flagged: {flagged:?}");
    }

    #[test]
    fn mashed_keys_and_repetition_are_gibberish() {
        let passed: Vec<&str> = GIBBERISH
            .iter()
            .filter(|(_, t)| !is_gibberish(t))
            .map(|(n, _)| *n)
            .collect();
        assert!(passed.is_empty(), "passed: {passed:?}");
    }
}
