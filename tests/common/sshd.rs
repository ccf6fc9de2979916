//! The loopback sshd the ssh tests log in to (`tests/infra/sshd.sh`, which `.ci/run` starts):
//! found through `KIROKU_TEST_SSH_HOST` and `KIROKU_TEST_SSH_CONFIG` when set, else started
//! here when `/usr/sbin/sshd` is installed, else the test is skipped loudly (failed under CI).
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// How to reach the test sshd: `ssh -F config host`.
#[derive(Debug, Clone)]
pub struct TestSshd {
    pub host: String,
    pub config: String,
}

impl TestSshd {
    /// The `ssh_options` of a target on it.
    pub fn options(&self) -> Vec<String> {
        vec!["-F".into(), self.config.clone()]
    }

    /// Lines of `kiroku.toml` for an ssh target named `name` on it, running in `workdir`.
    pub fn target_toml(&self, name: &str, workdir: &Path) -> String {
        format!(
            "[targets.{name}]\nkind = \"ssh\"\nhost = {host:?}\nworkdir = {workdir:?}\nssh_options = [\"-F\", {config:?}]\n",
            host = self.host,
            workdir = workdir.display().to_string(),
            config = self.config,
        )
    }
}

/// The test sshd, or `None` (after a loud skip; a panic under CI) when there is none.
pub fn require_sshd() -> Option<TestSshd> {
    static FOUND: OnceLock<Result<TestSshd, String>> = OnceLock::new();
    match FOUND.get_or_init(find_or_start) {
        Ok(sshd) => Some(sshd.clone()),
        Err(why) => {
            super::requires::require(false, why, "apt-get install openssh-server openssh-client");
            None
        }
    }
}

fn find_or_start() -> Result<TestSshd, String> {
    if let (Ok(host), Ok(config)) = (
        std::env::var("KIROKU_TEST_SSH_HOST"),
        std::env::var("KIROKU_TEST_SSH_CONFIG"),
    ) {
        return Ok(TestSshd { host, config });
    }
    if !Path::new("/usr/sbin/sshd").exists() || Command::new("ssh").arg("-V").output().is_err() {
        return Err("an sshd on 127.0.0.1 (tests/infra/sshd.sh start)".into());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/infra/sshd.sh");
    let out = Command::new(&script)
        .arg("start")
        .output()
        .map_err(|e| format!("a working {} ({e})", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "an sshd that starts (tests/infra/sshd.sh start said: {})",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let var = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(str::to_string)
            .ok_or_else(|| format!("tests/infra/sshd.sh to print {name}"))
    };
    Ok(TestSshd {
        host: var("KIROKU_TEST_SSH_HOST")?,
        config: var("KIROKU_TEST_SSH_CONFIG")?,
    })
}
