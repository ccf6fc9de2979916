//! Themes name roles (`status.failed`, `table.header`, `chart.series.3`), never colours in
//! widget code. Four themes ship inside the binary (`themes/*.toml`); a user file
//! `$XDG_CONFIG_HOME/kiroku/themes/NAME.toml` overrides or adds one. `NO_COLOR` picks `mono`.
//!
//! A role's value is `"FG"`, `"FG on BG"` and any of the words `bold dim italic reversed
//! underlined`; colours are names, `#rrggbb` or a 0–255 index.
use ratatui::style::{Color, Modifier, Style};
use std::collections::HashMap;
use std::path::PathBuf;

/// The embedded themes, in the order `:theme` completes them.
pub const BUILTIN: [(&str, &str); 4] = [
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../../themes/mono.toml")),
];

#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    /// Status as text (`ok`, `run`, `FAIL`) instead of glyphs, for mono terminals.
    pub text_glyphs: bool,
    /// The syntect theme for code (none: plain).
    pub syntax: Option<String>,
    roles: HashMap<String, Style>,
}

#[derive(serde::Deserialize)]
struct ThemeFile {
    name: Option<String>,
    #[serde(default)]
    text_glyphs: bool,
    syntax: Option<String>,
    #[serde(default)]
    roles: HashMap<String, String>,
}

fn parse_color(word: &str) -> Option<Color> {
    if let Some(hex) = word.strip_prefix('#') {
        if hex.len() == 6 {
            let v = u32::from_str_radix(hex, 16).ok()?;
            return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return None;
    }
    if let Ok(i) = word.parse::<u8>() {
        return Some(Color::Indexed(i));
    }
    word.parse::<Color>().ok()
}

/// Parses one role value (`"black on cyan bold"`).
pub fn parse_style(value: &str) -> Result<Style, String> {
    let mut style = Style::default();
    let mut words = value.split_whitespace().peekable();
    let mut fg_set = false;
    while let Some(w) = words.next() {
        let lower = w.to_ascii_lowercase();
        match lower.as_str() {
            "bold" => style = style.add_modifier(Modifier::BOLD),
            "dim" => style = style.add_modifier(Modifier::DIM),
            "italic" => style = style.add_modifier(Modifier::ITALIC),
            "reversed" => style = style.add_modifier(Modifier::REVERSED),
            "underlined" => style = style.add_modifier(Modifier::UNDERLINED),
            "on" => {
                let bg = words
                    .next()
                    .ok_or_else(|| format!("'{value}': a colour must follow 'on'"))?;
                style = style.bg(parse_color(bg).ok_or_else(|| format!("unknown colour '{bg}'"))?);
            }
            _ if !fg_set => {
                style =
                    style.fg(parse_color(&lower).ok_or_else(|| format!("unknown colour '{w}'"))?);
                fg_set = true;
            }
            _ => return Err(format!("'{value}': unexpected word '{w}'")),
        }
    }
    Ok(style)
}

impl Theme {
    /// Parses a theme file; an error names the role.
    pub fn parse(text: &str, fallback_name: &str) -> Result<Theme, String> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut roles = HashMap::new();
        for (role, value) in file.roles {
            let style = parse_style(&value).map_err(|e| format!("role '{role}': {e}"))?;
            roles.insert(role, style);
        }
        Ok(Theme {
            name: file.name.unwrap_or_else(|| fallback_name.to_string()),
            text_glyphs: file.text_glyphs,
            syntax: file.syntax,
            roles,
        })
    }

    pub fn builtin(name: &str) -> Option<Theme> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Theme::parse(text, n).expect("embedded themes parse (tested)"))
    }

    /// A user theme file overrides an embedded one of the same name: its roles are laid over
    /// the embedded (or default) theme's.
    pub fn load(name: &str) -> Result<Theme, String> {
        let base = Theme::builtin(name);
        let user_path = user_theme_dir().map(|d| d.join(format!("{name}.toml")));
        match user_path.filter(|p| p.is_file()) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let user =
                    Theme::parse(&text, name).map_err(|e| format!("{}: {e}", path.display()))?;
                let mut theme = base.unwrap_or_else(Theme::fallback);
                theme.name = user.name;
                theme.text_glyphs |= user.text_glyphs;
                if user.syntax.is_some() {
                    theme.syntax = user.syntax;
                }
                theme.roles.extend(user.roles);
                Ok(theme)
            }
            None => base
                .ok_or_else(|| format!("unknown theme '{name}' (known: {})", names().join(", "))),
        }
    }

    /// `mono` when `NO_COLOR` is set (to anything non-empty), else the saved theme or
    /// `default`.
    pub fn initial_name(saved: Option<&str>) -> String {
        Theme::pick(
            saved,
            std::env::var("NO_COLOR").is_ok_and(|v| !v.is_empty()),
        )
    }

    fn pick(saved: Option<&str>, no_color: bool) -> String {
        if no_color {
            return "mono".into();
        }
        saved.unwrap_or("default").to_string()
    }

    pub fn fallback() -> Theme {
        Theme::builtin("default").expect("the default theme is embedded")
    }

    /// The style of a role; an unknown role is plain text (a theme may leave roles out).
    pub fn style(&self, role: &str) -> Style {
        self.roles.get(role).copied().unwrap_or_default()
    }

    /// The colour of series `i` in charts (8 colours, cycled).
    pub fn series(&self, i: usize) -> Style {
        self.style(SERIES_ROLES[i % SERIES_ROLES.len()])
    }
}

const SERIES_ROLES: [&str; 8] = [
    "chart.series.0",
    "chart.series.1",
    "chart.series.2",
    "chart.series.3",
    "chart.series.4",
    "chart.series.5",
    "chart.series.6",
    "chart.series.7",
];

/// A run's stable colour index: the same run has the same colour on every screen.
pub fn run_color_index(run_id: &str) -> usize {
    // FNV-1a: stable across processes and versions, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in run_id.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % SERIES_ROLES.len() as u64) as usize
}

/// Embedded theme names plus user themes.
pub fn names() -> Vec<String> {
    let mut out: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    if let Some(dir) = user_theme_dir() {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                        if !out.iter().any(|n| n == stem) {
                            out.push(stem.to_string());
                        }
                    }
                }
            }
        }
    }
    out
}

fn user_theme_dir() -> Option<PathBuf> {
    super::state_file::config_dir().map(|d| d.join("themes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_themes_parse_and_share_roles() {
        let default = Theme::builtin("default").unwrap();
        for (name, text) in BUILTIN {
            let t = Theme::parse(text, name).unwrap();
            for role in default.roles.keys() {
                assert!(t.roles.contains_key(role), "theme {name} lacks role {role}");
            }
        }
        assert!(Theme::builtin("mono").unwrap().text_glyphs);
        // Every named syntax theme exists in syntect's embedded set.
        let themes = syntect::highlighting::ThemeSet::load_defaults();
        for (name, _) in BUILTIN {
            if let Some(s) = Theme::builtin(name).unwrap().syntax {
                assert!(themes.themes.contains_key(&s), "{name}: {s}");
            }
        }
    }

    #[test]
    fn no_color_picks_mono_over_the_saved_theme() {
        assert_eq!(Theme::pick(Some("light"), true), "mono");
        assert_eq!(Theme::pick(Some("light"), false), "light");
        assert_eq!(Theme::pick(None, false), "default");
    }

    #[test]
    fn styles_parse_and_errors_name_the_word() {
        let s = parse_style("black on #102030 bold").unwrap();
        assert_eq!(s.fg, Some(Color::Black));
        assert_eq!(s.bg, Some(Color::Rgb(16, 32, 48)));
        assert!(parse_style("blurple").unwrap_err().contains("blurple"));
        assert!(parse_style("red green").is_err());
    }
}
