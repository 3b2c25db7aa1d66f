//! What a person does in the app, in a real browser: sign up, journal, browse,
//! edit, delete, chart, export, sign out; and what an attacker's page cannot do.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{browser, Browser};
use crate::helpers::{note, PASSWORD};

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

macro_rules! browser_or_skip {
    () => {
        match browser().await {
            Some(browser) => browser,
            None => return,
        }
    };
}

impl Browser {
    async fn entries(&self) -> Vec<Value> {
        let (status, page) = self.fetch("GET", "/api/entries?limit=200", None).await;
        assert_eq!(status, 200, "{page}");
        page["entries"].as_array().cloned().unwrap_or_default()
    }

    async fn create_via_api(&self, mood: &str, text: &str) -> Value {
        let (status, entry) = self
            .fetch(
                "POST",
                "/api/entries",
                Some(json!({ "mood": mood, "tags": ["seed"], "note": note(text) })),
            )
            .await;
        assert_eq!(status, 201, "{entry}");
        entry
    }

    /// The streamed reply, once the `done` event has replaced the streaming line.
    async fn final_reply(&self) -> String {
        self.until(
            "the vibe check",
            "const v = document.querySelector('section.vibe'); \
             return !!v && !v.hasAttribute('aria-busy') && !v.querySelector('.placeholder, .streaming') \
             && v.querySelector('.vibe-text').textContent.length > 0",
        )
        .await;
        self.js("return document.querySelector('section.vibe .vibe-text').textContent")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn press(&self, keys: &str) {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .send_keys(keys)
            .await
            .expect("keys sent");
    }

    /// Tabs until the focused element matches a CSS selector.
    async fn tab_to(&self, css: &str) {
        for _ in 0..20 {
            let here = self
                .js(&format!(
                    "return document.activeElement.matches({})",
                    json!(css)
                ))
                .await;
            if here == Value::Bool(true) {
                return;
            }
            self.press(TAB).await;
        }
        panic!("Tab never reached {css}");
    }

    async fn assert_no_console_errors(&self) {
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    }
}

#[tokio::test]
async fn a_newcomer_signs_up_writes_an_entry_and_watches_the_reply_stream_in() {
    let b = browser_or_skip!();
    b.sign_up("newcomer@example.com").await;
    b.choose_mood("Calm").await;
    b.type_into("Tags", "work, evening, Work").await;
    b.until(
        "the tag chips",
        "return [...document.querySelectorAll('.chip')].map(c => c.textContent).join('|') === 'work|evening'",
    )
    .await;
    b.type_into("Note", "Short").await;
    assert!(b.body_text().await.contains("45 more characters needed"));
    b.type_into(
        "Note",
        &note("Work was long but I walked home by the river."),
    )
    .await;
    b.js("window.__seen = new Set(); new MutationObserver(() => { \
          const line = document.querySelector('section.vibe .streaming'); \
          if (line && line.textContent) window.__seen.add(line.textContent); }) \
          .observe(document.querySelector('main'), { subtree: true, childList: true, characterData: true }); return true")
        .await;
    b.click("Save entry").await;
    let reply = b.final_reply().await;

    let pieces = b.js("return [...window.__seen]").await;
    let pieces = pieces.as_array().expect("a list");
    assert!(
        pieces.len() >= 2,
        "the reply arrived in one piece: {pieces:?}"
    );
    let entries = b.entries().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["mood"], "calm");
    assert_eq!(entries[0]["tags"], json!(["work", "evening"]));
    assert_eq!(entries[0]["ai_response"].as_str(), Some(reply.as_str()));
    assert_eq!(
        b.js("return document.querySelector('textarea').value")
            .await,
        "",
        "the form is cleared after saving"
    );
    let cookie = b.js("return document.cookie").await;
    assert!(!cookie.as_str().unwrap_or_default().contains("serene_token"));
    b.assert_no_console_errors().await;
    b.end().await;
}

#[tokio::test]
async fn a_crisis_note_shows_the_disclaimer_in_its_own_calm_style() {
    let b = browser_or_skip!();
    b.sign_up("crisis@example.com").await;
    b.choose_mood("Sad").await;
    b.type_into(
        "Note",
        "Everything is too much lately and sometimes I think I want to end my life, honestly.",
    )
    .await;
    b.click("Save entry").await;
    b.find("section.vibe .reply.guardrail").await;
    let reply = b.final_reply().await;
    assert_eq!(
        reply,
        "If you're feeling unsafe or overwhelmed, please consider reaching out to someone you trust or a local support service."
    );
    b.end().await;
}

#[tokio::test]
async fn history_pages_with_load_more_then_edits_and_deletes_in_place() {
    let b = browser_or_skip!();
    b.sign_up("history@example.com").await;
    for i in 0..25 {
        b.create_via_api("calm", &format!("Entry number {i:02} of a long month."))
            .await;
    }
    b.click("History").await;
    b.until(
        "the first page",
        "return document.querySelectorAll('article').length === 20",
    )
    .await;
    b.click("Load more").await;
    b.until(
        "the second page",
        "return document.querySelectorAll('article').length === 25",
    )
    .await;
    let notes = b
        .js("return [...document.querySelectorAll('article .note')].map(n => n.textContent)")
        .await;
    let notes: Vec<&str> = notes
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let expected: Vec<String> = (0..25)
        .rev()
        .map(|i| note(&format!("Entry number {i:02} of a long month.")))
        .collect();
    assert_eq!(notes, expected, "newest first, none skipped or repeated");
    assert!(b
        .js("return document.querySelector('main button[hidden]')?.textContent === 'Load more'")
        .await
        .as_bool()
        .unwrap_or(false));

    // Edit the newest entry.
    b.find("article .actions button")
        .await
        .click()
        .await
        .expect("Edit");
    let mood = b.find("article form.edit input").await;
    mood.clear().await.expect("clear");
    mood.send_keys("Grateful").await.expect("type");
    let text = b.find("article form.edit textarea").await;
    text.clear().await.expect("clear");
    text.send_keys(&note("Edited: the evening turned out fine after all."))
        .await
        .expect("type");
    b.click("Save changes").await;
    b.until(
        "the edited entry",
        "const a = document.querySelector('article'); return !!a && a.querySelector('.mood')?.textContent === 'grateful'",
    )
    .await;
    let newest = &b.entries().await[0];
    assert_eq!(newest["mood"], "grateful");
    assert!(newest["note"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Edited:"));

    // Delete it, after the confirmation.
    let delete = b
        .client
        .find(fantoccini::Locator::XPath(
            "(//article//button[normalize-space(.)='Delete'])[1]",
        ))
        .await
        .expect("Delete");
    delete.click().await.expect("click");
    assert!(b
        .body_text()
        .await
        .contains("Delete this entry? This cannot be undone."));
    b.click("Delete entry").await;
    b.until(
        "the entry to go",
        "return document.querySelectorAll('article').length === 24",
    )
    .await;
    let entries = b.entries().await;
    assert_eq!(entries.len(), 24);
    assert!(entries.iter().all(|e| e["mood"] != "grateful"));
    b.assert_no_console_errors().await;
    b.end().await;
}

#[tokio::test]
async fn the_week_table_shows_this_weeks_counts() {
    let b = browser_or_skip!();
    b.sign_up("week@example.com").await;
    for mood in ["calm", "calm", "happy"] {
        b.create_via_api(mood, "A plain day with a few good moments.")
            .await;
    }
    b.click("Week").await;
    b.until(
        "the table",
        "return document.querySelectorAll('table tbody tr').length === 2",
    )
    .await;
    let rows = b
        .js("return [...document.querySelectorAll('table tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim())")
        .await;
    assert_eq!(rows, json!(["calm 2", "happy 1"]));
    let bars = b
        .js("return document.querySelectorAll('section svg rect.bar').length")
        .await;
    assert_eq!(bars, 2);
    b.click("Previous week").await;
    b.until(
        "an empty week",
        "return document.body.innerText.includes('No entries this week.')",
    )
    .await;
    b.assert_no_console_errors().await;
    b.end().await;
}

#[tokio::test]
async fn an_export_downloads_as_a_file() {
    let b = browser_or_skip!();
    b.sign_up("export@example.com").await;
    b.create_via_api("calm", "Something worth keeping forever.")
        .await;
    b.click("Account").await;
    b.click("Export JSON").await;
    let started = Instant::now();
    let file = loop {
        let done = std::fs::read_dir(b.downloads.path())
            .expect("downloads")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "json"));
        if let Some(file) = done {
            break file;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no download arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let export: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON export");
    assert_eq!(export["entries"].as_array().map(Vec::len), Some(1));
    b.end().await;
}

/// A page on another origin (another port of the same host, so the `SameSite=Lax`
/// cookie does travel) tries a cross-origin fetch and a form post.
#[tokio::test]
async fn a_page_on_another_origin_cannot_write_through_the_users_cookie() {
    let b = browser_or_skip!();
    b.sign_up("target@example.com").await;
    let target = b.url("/api/entries");
    let page = format!(
        r#"<!doctype html><title>evil</title>
<form id="f" method="POST" action="{target}" enctype="text/plain"><input name='{{"mood":"evil","note":"' value='{filler}"}}'></form>
<script>
fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{mood: "evil", note: "{filler}"}})}})
  .catch(() => null).finally(() => document.getElementById("f").submit());
</script>"#,
        filler = "x".repeat(60)
    );
    let evil = serve_one_page(page).await;
    b.client.goto(&evil).await.expect("the other page");
    b.until(
        "the form post's answer",
        "return document.body && document.body.innerText.includes('CSRF_REJECTED')",
    )
    .await;
    b.goto("/history").await;
    b.find("h1").await;
    assert!(
        b.entries().await.is_empty(),
        "nothing was stored by the other origin"
    );
    b.end().await;
}

/// A tiny server on its own port that answers every request with one page.
async fn serve_one_page(page: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/")
}

#[tokio::test]
async fn after_sign_out_the_back_button_shows_no_journal_data() {
    let b = browser_or_skip!();
    b.sign_up("private@example.com").await;
    b.create_via_api("calm", "Blueberry pancakes with my sister at the lake.")
        .await;
    b.click("History").await;
    b.until(
        "the entry",
        "return document.body.innerText.includes('Blueberry pancakes')",
    )
    .await;
    b.click("Account").await;
    b.click("Sign out").await;
    b.until(
        "the sign-in screen",
        "return location.pathname === '/signin' && document.body.innerText.includes('You are signed out.')",
    )
    .await;
    for _ in 0..2 {
        b.client.back().await.expect("back");
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.find("h1").await;
        let text = b.body_text().await;
        assert!(
            !text.contains("Blueberry"),
            "journal data after sign-out: {text}"
        );
        assert!(!text.contains("private@example.com"), "{text}");
    }
    assert_eq!(
        b.js("return sessionStorage.length").await,
        0,
        "nothing kept in sessionStorage"
    );
    b.end().await;
}

#[tokio::test]
async fn an_entry_can_be_written_with_the_keyboard_alone() {
    let b = browser_or_skip!();
    b.sign_up("keys@example.com").await;
    b.tab_to("input[type=radio]").await;
    // Arrow keys move through a radio group and choose as they go.
    b.press("\u{E015}").await;
    b.tab_to("input:not([type=radio]):not([disabled])").await;
    b.press("typed, by keys").await;
    b.tab_to("textarea").await;
    b.press(&note("Nothing but the keyboard tonight, and that is fine."))
        .await;
    b.tab_to("button[type=submit]").await;
    b.press(ENTER).await;
    b.final_reply().await;
    let entries = b.entries().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["mood"], "calm", "the second mood, by arrow key");
    assert_eq!(entries[0]["tags"], json!(["typed", "by keys"]));
    b.end().await;
}

#[tokio::test]
async fn notes_moods_and_tags_are_shown_as_text_never_as_html() {
    let b = browser_or_skip!();
    b.sign_up("xss@example.com").await;
    let mood = "<img src=x onerror=alert(1)>";
    b.choose_mood("Other").await;
    b.type_into("Your own mood", mood).await;
    b.type_into("Tags", "<b>bold</b>").await;
    let text = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"> \
                and then a perfectly ordinary evening walk home.";
    b.type_into("Note", text).await;
    b.click("Save entry").await;
    b.final_reply().await;
    let entries = b.entries().await;
    assert_eq!(entries[0]["mood"], mood, "stored as written");
    let reply = entries[0]["ai_response"].as_str().unwrap_or_default();
    assert!(reply.contains(mood), "the mock repeats the mood: {reply}");

    b.click("History").await;
    b.find("article").await;
    assert_eq!(
        b.js("return document.querySelector('article .mood').textContent")
            .await,
        mood
    );
    assert_eq!(
        b.js("return document.querySelector('article .note').textContent")
            .await,
        text
    );
    assert!(b
        .js("return document.querySelector('article .reply').textContent")
        .await
        .as_str()
        .unwrap_or_default()
        .contains(mood));
    assert_eq!(
        b.js("return document.querySelector('article .chip').textContent")
            .await,
        "<b>bold</b>"
    );
    assert_eq!(
        b.js("return document.querySelectorAll('main img, main script, main b').length")
            .await,
        0
    );
    assert_eq!(b.js("return typeof window.__pwned").await, "undefined");
    assert!(b.client.get_alert_text().await.is_err(), "an alert ran");
    b.end().await;
}

#[tokio::test]
async fn a_revoked_session_returns_to_sign_in_and_keeps_the_unsaved_note() {
    let b = browser_or_skip!();
    b.sign_up("expiry@example.com").await;
    b.choose_mood("Tired").await;
    let text = note("A long day that I do not want to lose to a timeout.");
    b.type_into("Note", &text).await;
    // Revoke the session behind the page's back, as a sign-out elsewhere would.
    let cookies = b.client.get_all_cookies().await.expect("cookies");
    let token = cookies
        .iter()
        .find(|c| c.name() == "serene_token")
        .map(|c| c.value().to_owned())
        .expect("the session cookie");
    let revoked = b
        .app
        .post_json(
            "/api/auth/logout",
            &json!({}),
            Some(&format!("serene_token={token}")),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    b.click("Save entry").await;
    b.until(
        "the sign-in screen",
        "return location.pathname === '/signin' && document.body.innerText.includes('Your session has ended')",
    )
    .await;
    b.type_into("Email", "expiry@example.com").await;
    b.type_into("Password", PASSWORD).await;
    b.click("Sign in").await;
    b.find("textarea").await;
    assert_eq!(
        b.js("return document.querySelector('textarea').value")
            .await,
        text
    );
    assert_eq!(
        b.js("return document.querySelector('input[value=tired]').checked")
            .await,
        true
    );
    assert!(b.entries().await.is_empty());
    b.end().await;
}

#[tokio::test]
async fn a_double_click_on_save_creates_one_entry() {
    let b = browser_or_skip!();
    b.sign_up("double@example.com").await;
    b.choose_mood("Happy").await;
    b.type_into("Note", &note("One entry, however eager the finger."))
        .await;
    b.js("const save = [...document.querySelectorAll('button')].find(x => x.textContent === 'Save entry'); \
          save.click(); save.click(); return true")
        .await;
    b.final_reply().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.entries().await.len(), 1);
    b.end().await;
}

#[tokio::test]
async fn sign_in_errors_are_said_in_words_next_to_the_form() {
    let b = browser_or_skip!();
    b.sign_up("words@example.com").await;
    b.click("Account").await;
    b.click("Sign out").await;
    b.find("form").await;
    b.type_into("Email", "words@example.com").await;
    b.type_into("Password", "wrong password").await;
    b.click("Sign in").await;
    b.until("the message", "return document.body.innerText.includes('That email and password do not match an account.')").await;
    b.click("Create account").await;
    b.until(
        "the message",
        "return document.body.innerText.includes('An account with this email already exists.')",
    )
    .await;
    b.type_into("Email", "not-an-email").await;
    b.click("Create account").await;
    b.until("the field message", "return document.body.innerText.includes('Email ')  && document.querySelector('[aria-invalid=true]') !== null").await;
    b.type_into("Email", "words@example.com").await;
    // Each attempt waits for the previous answer (the form ignores clicks while
    // busy), until the fifth failure for this email makes the next one a 429.
    let waits = "return /Please wait (\\d+ seconds?|about \\d+ minutes?) and try again/.test(document.body.innerText)";
    let mut limited = false;
    for _ in 0..10 {
        b.click("Sign in").await;
        b.until(
            "the answer",
            "return [...document.querySelectorAll('button')].every(x => !x.disabled)",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        if b.js(waits).await == Value::Bool(true) {
            limited = true;
            break;
        }
    }
    assert!(limited, "no wait was shown: {}", b.body_text().await);
    b.end().await;
}

#[tokio::test]
async fn a_password_change_then_account_deletion_leave_nothing_behind() {
    let b = browser_or_skip!();
    b.sign_up("leaving@example.com").await;
    b.create_via_api("calm", "The last entry before I go.")
        .await;
    b.click("Account").await;
    b.type_into("Current password", PASSWORD).await;
    b.type_into("New password", "a brand new passphrase").await;
    b.click("Change password").await;
    b.until(
        "the confirmation",
        "return document.body.innerText.includes('Password changed.')",
    )
    .await;
    b.click("Delete account").await;
    assert!(b.body_text().await.contains("It cannot be undone."));
    b.type_into("Password", PASSWORD).await;
    b.click("Delete my account forever").await;
    b.until(
        "the refusal",
        "return document.body.innerText.includes('That password is not right; nothing was deleted.')",
    )
    .await;
    b.type_into("Password", "a brand new passphrase").await;
    b.click("Delete my account forever").await;
    b.until(
        "the sign-in screen",
        "return location.pathname === '/signin' && document.body.innerText.includes('Your account and every entry are deleted.')",
    )
    .await;
    let login = b
        .app
        .post_json(
            "/api/auth/login",
            &json!({ "email": "leaving@example.com", "password": "a brand new passphrase" }),
            None,
        )
        .await;
    assert_eq!(login.status(), 401);
    b.end().await;
}

#[tokio::test]
async fn history_finds_entries_by_word_tag_and_mood() {
    let b = browser_or_skip!();
    b.sign_up("finder@example.com").await;
    for (mood, tag, text) in [
        (
            "calm",
            "garden",
            "Planted tulips along the fence this afternoon.",
        ),
        (
            "happy",
            "garden",
            "The roses finally opened after the rain.",
        ),
        (
            "tired",
            "work",
            "Spreadsheets until the light outside was gone.",
        ),
    ] {
        let (status, _) = b
            .fetch(
                "POST",
                "/api/entries",
                Some(json!({ "mood": mood, "tags": [tag], "note": note(text) })),
            )
            .await;
        assert_eq!(status, 201);
    }
    b.click("History").await;
    b.until(
        "every entry",
        "return document.querySelectorAll('article').length === 3",
    )
    .await;

    b.type_into("Search", "tulip").await;
    b.click("Apply filters").await;
    b.until("the search result", "return document.querySelectorAll('article').length === 1 && document.querySelector('article .note').textContent.startsWith('Planted tulips')").await;

    b.type_into("Search", "").await;
    b.type_into("Tag", "garden").await;
    b.click("Apply filters").await;
    b.until(
        "the tag filter",
        "return document.querySelectorAll('article').length === 2",
    )
    .await;

    b.type_into("Mood", "happy").await;
    b.click("Apply filters").await;
    b.until("tag and mood together", "return document.querySelectorAll('article').length === 1 && document.querySelector('article .mood').textContent === 'happy'").await;

    b.type_into("Search", "nothing-like-this").await;
    b.click("Apply filters").await;
    b.until(
        "no match",
        "return document.body.innerText.includes('No entries match these filters.')",
    )
    .await;

    b.click("Clear filters").await;
    b.until(
        "every entry again",
        "return document.querySelectorAll('article').length === 3",
    )
    .await;

    // Dates are local days of the browser: today holds all three, tomorrow none.
    let set_from = "const d = new Date(); d.setDate(d.getDate() + arguments[0]); \
                    const day = d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0'); \
                    const from = document.getElementById([...document.querySelectorAll('label')].find(l => l.textContent === 'From').htmlFor); \
                    from.value = day; return from.value === day;";
    for (offset, expected) in [(0, "3"), (1, "0")] {
        let set = b
            .client
            .execute(set_from, vec![json!(offset)])
            .await
            .expect("date set");
        assert_eq!(set, true);
        b.click("Apply filters").await;
        b.until(
            "the date filter",
            &format!("return document.querySelectorAll('article').length === {expected} && !document.querySelector('main button[disabled]')"),
        )
        .await;
    }
    b.assert_no_console_errors().await;
    b.end().await;
}
