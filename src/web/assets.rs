//! The app's files, compiled into the binary so that the single binary (and the
//! `FROM scratch` image) carries everything. A test checks that this table and
//! the `app/` folder list the same files.

/// The page every client-side route gets.
pub const SHELL: &[u8] = include_bytes!("../../app/index.html");

pub struct Asset {
    /// The name under `/assets/`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../app/assets/", $name)),
        }
    };
}

pub static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("main.js", "text/javascript; charset=utf-8"),
    asset!("signin.js", "text/javascript; charset=utf-8"),
    asset!("journal.js", "text/javascript; charset=utf-8"),
    asset!("history.js", "text/javascript; charset=utf-8"),
    asset!("week.js", "text/javascript; charset=utf-8"),
    asset!("account.js", "text/javascript; charset=utf-8"),
];

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

impl Asset {
    /// A strong validator from the content, so a new build changes it exactly
    /// when the file changed.
    pub fn etag(&self) -> String {
        format!("\"{:016x}\"", crate::fnv::fnv1a(self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_exactly_the_files_of_the_assets_folder() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("app/assets");
        let mut on_disk: Vec<String> = std::fs::read_dir(folder)
            .expect("app/assets is readable")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn the_whole_app_stays_under_its_100_kb_budget() {
        let total = SHELL.len() + ASSETS.iter().map(|a| a.bytes.len()).sum::<usize>();
        assert!(total < 100 * 1024, "the app is {total} bytes");
    }

    #[test]
    fn etags_differ_when_contents_differ() {
        let tags: std::collections::HashSet<String> = ASSETS.iter().map(Asset::etag).collect();
        assert_eq!(tags.len(), ASSETS.len());
    }
}
