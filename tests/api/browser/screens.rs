//! Every screen in light and dark, at 360 px and 1280 px: a screenshot under
//! `target/browser/`, axe-core with no serious or critical violation, and no
//! console error. The first paint of the shell is measured and reported too.

use serde_json::json;

use super::{browser_with, output_dir, Browser, Options};
use crate::helpers::note;

/// The screens, each with a script that is true once its data is drawn.
const SCREENS: &[(&str, &str, &str)] = &[
    (
        "journal",
        "Journal",
        "return !!document.querySelector('section.vibe .reply:not(.streaming)')",
    ),
    (
        "history",
        "History",
        "return document.querySelectorAll('article').length === 3",
    ),
    ("week", "Week", "return !!document.querySelector('table')"),
    (
        "months",
        "Months",
        "return !!document.querySelector('table')",
    ),
    (
        "account",
        "Account",
        "return document.body.innerText.includes('Signed in as')",
    ),
];

async fn check(b: &Browser, name: &str, problems: &mut Vec<String>) {
    b.screenshot(name).await;
    // Markup slips that axe does not see: stray "null"/"undefined" text, and the
    // signed-in navigation showing on a signed-out screen.
    let stray = b
        .js("return /\\b(null|undefined|NaN|\\[object Object\\])\\b/.test(document.body.innerText)")
        .await;
    if stray == true {
        problems.push(format!("{name}: stray null/undefined text on screen"));
    }
    let nav_shown = b
        .js("return getComputedStyle(document.getElementById('nav')).display !== 'none'")
        .await;
    if nav_shown != (!name.starts_with("signin")) {
        problems.push(format!("{name}: navigation shown = {nav_shown}"));
    }
    for violation in b.axe_violations().await {
        problems.push(format!("{name}: {violation}"));
    }
    for error in b.console_errors().await {
        problems.push(format!("{name}: console: {error}"));
    }
}

async fn every_screen(width: u32, dark: bool) {
    let Some(b) = browser_with(Options {
        width,
        height: if width < 600 { 780 } else { 900 },
    })
    .await
    else {
        return;
    };
    let variant = format!("{}-{width}", if dark { "dark" } else { "light" });
    b.emulate(dark, dark).await;
    let mut problems = Vec::new();

    b.goto("/").await;
    b.by_name("Email").await;
    check(&b, &format!("signin-{variant}"), &mut problems).await;

    b.sign_up(&format!("{variant}@example.com")).await;
    for (mood, tags, text) in [
        (
            "grateful",
            json!(["family"]),
            "Dinner with my sister, we laughed about old times.",
        ),
        (
            "tired",
            json!(["work", "sleep"]),
            "A long shift and a short night; the bed is calling.",
        ),
    ] {
        let (status, _) = b
            .fetch(
                "POST",
                "/api/entries",
                Some(json!({ "mood": mood, "tags": tags, "note": note(text) })),
            )
            .await;
        assert_eq!(status, 201);
    }
    b.choose_mood("Calm").await;
    b.type_into("Tags", "evening, walk").await;
    b.type_into("Note", &note("The rain stopped just as I left the office."))
        .await;
    b.click("Save entry").await;

    for (screen, link, ready) in SCREENS {
        if *screen != "journal" {
            b.click(link).await;
        }
        b.until(screen, ready).await;
        check(&b, &format!("{screen}-{variant}"), &mut problems).await;
    }
    assert!(problems.is_empty(), "{problems:#?}");
    b.end().await;
}

#[tokio::test]
async fn every_screen_in_light_at_1280_px() {
    every_screen(1280, false).await;
}

#[tokio::test]
async fn every_screen_in_dark_at_1280_px() {
    every_screen(1280, true).await;
}

#[tokio::test]
async fn every_screen_in_light_at_360_px() {
    every_screen(360, false).await;
}

#[tokio::test]
async fn every_screen_in_dark_at_360_px() {
    every_screen(360, true).await;
}

/// The shell's first contentful paint from a warm server, written to
/// `target/browser/first-paint.txt` (a measurement, not a timed assertion).
#[tokio::test]
async fn the_first_paint_of_the_shell_is_measured() {
    let Some(b) = browser_with(Options::default()).await else {
        return;
    };
    b.goto("/signin").await;
    b.by_name("Email").await;
    let mut paints = Vec::new();
    for _ in 0..5 {
        b.goto("/signin").await;
        b.by_name("Email").await;
        let paint = b
            .js("return performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null")
            .await;
        paints.push(paint.as_f64().expect("a first contentful paint"));
    }
    paints.sort_by(f64::total_cmp);
    let report = format!(
        "first contentful paint of the shell, warm server, 5 loads: median {:.0} ms, max {:.0} ms\n",
        paints[2], paints[4]
    );
    eprint!("{report}");
    std::fs::write(output_dir().join("first-paint.txt"), report).expect("report written");
    b.end().await;
}
