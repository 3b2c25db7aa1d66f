//! Seeds the database directly (the schema exists: the server made it on its first
//! start). Sessions are written as rows and signed with the benchmark's secret, so
//! every simulated user has its own cookie without paying for 1,000 logins.

use std::path::Path;

use jsonwebtoken::{encode, EncodingKey, Header};
use rusqlite::{params, Connection};
use serde_json::json;

use crate::server::JWT_SECRET;

pub const STORM_PASSWORD: &str = "bench password for the storm";
const STORM_USERS: usize = 50;
const MOODS: &[&str] = &["happy", "calm", "anxious", "tired", "sad", "grateful"];
/// Each entry carries two of these, so a tag filter finds about one entry in six.
pub const TAGS: &[&str] = &[
    "work", "evening", "family", "sleep", "run", "friends", "reading", "garden", "travel", "music",
    "cooking", "study",
];
/// Each note names one of these, so a one-word search finds about one entry in 20.
pub const ACTIVITIES: &[&str] = &[
    "walk by the river",
    "swim at the lake",
    "yoga class",
    "long phone call",
    "bike ride",
    "board game night",
    "concert",
    "museum visit",
    "picnic",
    "climbing session",
    "pottery class",
    "market trip",
    "film night",
    "choir practice",
    "tennis match",
    "bakery visit",
    "library afternoon",
    "dinner party",
    "garden work",
    "ferry ride",
];
const REPLY: &str = "It sounds like a full day. Be gentle with yourself tonight.";
const WEEK_MS: i64 = 7 * 24 * 3_600_000;
const EIGHT_WEEKS_MS: i64 = 8 * WEEK_MS;
/// A diligent journal: several entries a day, every day.
pub const STEADY_ENTRIES_PER_WEEK: usize = 25;

#[derive(Clone, Copy)]
pub struct SeedSize {
    pub users: usize,
    pub entries_per_user: usize,
}

#[derive(Clone)]
pub struct BenchUser {
    pub cookie: String,
    pub entry_ids: Vec<String>,
}

#[derive(Clone)]
pub struct Seed {
    pub users: Vec<BenchUser>,
    pub storm_emails: Vec<String>,
}

/// A tiny deterministic generator, so two runs seed the same data.
struct Lcg(u64);

impl Lcg {
    /// 62 random bits (two 31-bit halves: the low bits of an LCG are weak).
    fn next(&mut self) -> u64 {
        (self.half() << 31) | self.half()
    }

    fn half(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

impl Seed {
    /// Each user's entries spread over the last eight weeks.
    pub fn create(dir: &Path, size: SeedSize) -> Self {
        Self::create_spread(dir, size, EIGHT_WEEKS_MS)
    }

    /// Each user's entries at `per_week` a week, reaching back as far as they need:
    /// a long history, with recent weeks as full as in a short one.
    pub fn create_with_density(dir: &Path, size: SeedSize, per_week: usize) -> Self {
        let weeks = size.entries_per_user.div_ceil(per_week).max(1) as i64;
        Self::create_spread(dir, size, weeks * WEEK_MS)
    }

    fn create_spread(dir: &Path, size: SeedSize, span_ms: i64) -> Self {
        let mut conn = Connection::open(dir.join("serene.db")).expect("open the database");
        serene::db::register_functions(&conn).expect("functions");
        conn.pragma_update(None, "synchronous", "OFF")
            .expect("pragma");
        conn.pragma_update(None, "foreign_keys", "ON")
            .expect("pragma");
        let hash = bcrypt::hash(STORM_PASSWORD, 12).expect("bcrypt");
        // Every account has its data key, wrapped in the key store as the server
        // would, and each entry is sealed and indexed with it, by the server's code.
        let master = std::fs::read_to_string(dir.join("master.key"))
            .map(|text| serene::crypto::Key::from_base64(&text).expect("a master key"))
            .expect("the server made a master key at its first start");
        let keys_conn = Connection::open(dir.join("serene.keys.db")).expect("the key store");
        keys_conn
            .execute_batch("BEGIN")
            .expect("key store transaction");
        let issue_key = |user_id: &str| {
            let data_key = serene::crypto::Key::generate().expect("random");
            let wrapped = serene::crypto::wrap(&master, user_id, &data_key).expect("wrap");
            keys_conn
                .execute(
                    "INSERT INTO data_keys (user_id, wrapped, created_at) VALUES (?1, ?2, 0)",
                    params![user_id, wrapped],
                )
                .expect("key");
            serene::db::EntryKeys::new(user_id, &data_key)
        };
        let now_ms = chrono::Utc::now().timestamp_millis();
        let now_s = now_ms / 1000;
        let key = EncodingKey::from_secret(JWT_SECRET.as_bytes());
        let mut rng = Lcg(42);
        let tx = conn.transaction().expect("transaction");
        let mut users = Vec::with_capacity(size.users);
        {
            let mut insert_user = tx
                .prepare("INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)")
                .expect("prepare");
            let mut insert_session = tx
                .prepare("INSERT INTO sessions (jti, user_id, expires_at) VALUES (?1, ?2, ?3)")
                .expect("prepare");
            for i in 0..size.users {
                let user_id = uuid::Uuid::new_v4().to_string();
                insert_user
                    .execute(params![
                        user_id,
                        format!("user{i}@bench.local"),
                        hash,
                        now_ms - EIGHT_WEEKS_MS
                    ])
                    .expect("user");
                let user_keys = issue_key(&user_id);
                let mut entry_ids = Vec::new();
                let mut entries = Vec::with_capacity(size.entries_per_user);
                for n in 0..size.entries_per_user {
                    let id = uuid::Uuid::new_v4().to_string();
                    let mood = MOODS[(rng.next() % MOODS.len() as u64) as usize];
                    let at = now_ms - (rng.next() as i64 % span_ms);
                    let activity = ACTIVITIES[(rng.next() % ACTIVITIES.len() as u64) as usize];
                    let note = format!(
                        "Entry {n}: a long day, then a {activity}; felt {mood} and a little tired by the evening."
                    );
                    let first = (rng.next() % TAGS.len() as u64) as usize;
                    let second =
                        (first + 1 + (rng.next() % (TAGS.len() as u64 - 1)) as usize) % TAGS.len();
                    let tags = serde_json::to_string(&[TAGS[first], TAGS[second]]).expect("tags");
                    let entry = serene::domain::Entry {
                        id: id.clone(),
                        mood: mood.to_owned(),
                        tags: serene::domain::Tags::from_stored(&tags),
                        note,
                        ai_response: Some(REPLY.to_owned()),
                        created_at: at,
                        updated_at: at,
                    };
                    if entry_ids.len() < 5 {
                        entry_ids.push(id);
                    }
                    entries.push(entry);
                }
                // A live server writes each account's entries in time order, which
                // is the order they take in its table region.
                entries.sort_by_key(|entry| entry.created_at);
                for entry in &entries {
                    let sealed = serene::db::SealedEntry::new(&user_keys, entry).expect("sealed");
                    serene::db::insert_sealed(&tx, &user_id, entry, &sealed).expect("entry");
                }
                let jti = uuid::Uuid::new_v4().to_string();
                let exp = now_s + 86_400;
                insert_session
                    .execute(params![jti, user_id, exp])
                    .expect("session");
                let token = encode(
                    &Header::default(),
                    &json!({"sub": user_id, "iat": now_s, "exp": exp, "jti": jti}),
                    &key,
                )
                .expect("token");
                users.push(BenchUser {
                    cookie: format!("serene_token={token}"),
                    entry_ids,
                });
            }
            for i in 0..STORM_USERS {
                let user_id = uuid::Uuid::new_v4().to_string();
                insert_user
                    .execute(params![
                        user_id,
                        format!("storm{i}@bench.local"),
                        hash,
                        now_ms
                    ])
                    .expect("storm user");
                issue_key(&user_id);
            }
        }
        tx.commit().expect("commit");
        keys_conn
            .execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("keys committed");
        // The server tidies its search index whenever its writer is idle; a bulk
        // load leaves it untidy, so it is tidied here as the server would once
        // started, rather than while the first scenario is measured.
        while serene::db::tidy_search_index_step(&conn).expect("tidy") {}
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
        Self {
            users,
            storm_emails: (0..STORM_USERS)
                .map(|i| format!("storm{i}@bench.local"))
                .collect(),
        }
    }
}
