//! The Jobs screen's behaviour without a store: keys played through `handle_key`/`update`,
//! answers made by hand.
use super::*;
use crate::jobs::gpus::GpuProcess;
use crate::tui::app::Action;
use crate::tui::screens::test_support::{answer, press, requests, typed, with_runs, NOW};
use crate::tui::worker::Write;
use crossterm::event::KeyCode;

pub fn job(id: JobId, status: JobStatus, run: Option<&str>) -> Job {
    Job {
        id,
        name: format!("job-{id}"),
        experiment: "exp".into(),
        target: "local".into(),
        command: vec!["python".into(), "train.py".into()],
        workdir: "/w".into(),
        env: vec![],
        gpus: 1,
        gpu_memory_mb: None,
        after: vec![],
        params: vec![],
        tags: vec![],
        rerun_of: None,
        retry_of: None,
        time_limit_s: None,
        user: "alice".into(),
        host: "gpu01".into(),
        status,
        reason: String::new(),
        assigned_gpus: if status.is_active() { vec![0] } else { vec![] },
        run_id: run.map(str::to_string),
        queued_at: NOW - 60_000,
        started_at: run.map(|_| NOW - 30_000),
        ended_at: status.is_terminal().then_some(NOW - 10_000),
        exit_code: None,
        supervisor: None,
        handle: None,
        cancel_requested: false,
    }
}

fn opened(jobs: Vec<Job>) -> State {
    let mut s = with_runs(2);
    let effects = typed(&mut s, "J");
    assert_eq!(s.screen, Screen::Jobs);
    let kinds: Vec<_> = requests(&effects).iter().map(|r| r.kind()).collect();
    assert!(
        kinds.contains(&crate::tui::worker::RequestKind::Jobs),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&crate::tui::worker::RequestKind::Gpus),
        "{kinds:?}"
    );
    answer(&mut s, Response::Jobs(jobs));
    s
}

fn queue() -> Vec<Job> {
    vec![
        job(5, JobStatus::Queued, None),
        job(4, JobStatus::Finished, Some("run4")),
        job(3, JobStatus::Running, Some("run3")),
        job(2, JobStatus::Queued, None),
        job(1, JobStatus::Failed, Some("run1")),
    ]
}

#[test]
fn rows_group_running_then_queued_in_order_then_ended_and_keys_move_and_follow_the_log() {
    let mut s = opened(queue());
    let order: Vec<JobId> = s.jobs.rows().iter().map(|j| j.id).collect();
    assert_eq!(order, [3, 2, 5, 4, 1]);
    assert_eq!(s.jobs.selected, Some(3));
    // The running job's log is asked for, and followed once it comes.
    assert_eq!(s.jobs.log.as_ref().map(|l| l.run_id.as_str()), Some("run3"));
    let effects = answer(
        &mut s,
        Response::JobLog {
            run_id: "run3".into(),
            text: "epoch 1\n".into(),
            end: 8,
            appended: false,
            path: Some("/s/run3/output.log".into()),
        },
    );
    assert_eq!(
        effects,
        vec![Effect::WatchFile(Some("/s/run3/output.log".into()))]
    );
    // A queued job has no run: no log, nothing followed.
    assert_eq!(typed(&mut s, "j"), vec![Effect::WatchFile(None)]);
    assert_eq!(s.jobs.selected, Some(2));
    typed(&mut s, "G");
    assert_eq!(s.jobs.selected, Some(1));
    // A refresh keeps the selection on the same job.
    let mut jobs = queue();
    jobs.insert(0, job(6, JobStatus::Queued, None));
    answer(&mut s, Response::Jobs(jobs));
    assert_eq!(s.jobs.selected, Some(1));
    // Enter opens the job's run; on a job without one it says so.
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.screen, Screen::Run);
    assert_eq!(s.run.as_ref().unwrap().id, "run1");
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.screen, Screen::Jobs);
    typed(&mut s, "gj");
    assert!(press(&mut s, KeyCode::Enter).is_empty());
    assert_eq!(
        s.message.as_ref().unwrap().text,
        "job 2 has no run yet (queued)"
    );
}

#[test]
fn cancel_asks_naming_the_job_and_only_yes_cancels() {
    let mut s = opened(queue());
    typed(&mut s, "x");
    assert_eq!(
        s.overlay,
        Some(Overlay::Confirm(Confirm::CancelJob {
            id: 3,
            name: "job-3".into()
        }))
    );
    assert!(typed(&mut s, "n").is_empty());
    assert!(s.overlay.is_none());
    typed(&mut s, "d");
    let effects = typed(&mut s, "y");
    assert_eq!(
        requests(&effects),
        [&Request::Write(Write::CancelJob {
            id: 3,
            user: "alice".into()
        })]
    );
    // An ended job is not asked about.
    typed(&mut s, "G");
    typed(&mut s, "x");
    assert!(s.overlay.is_none());
    assert_eq!(s.message.as_ref().unwrap().text, "job 1 has ended (failed)");
    // Retry asks too, and queues a retry on yes.
    typed(&mut s, "R");
    assert!(matches!(
        s.overlay,
        Some(Overlay::Confirm(Confirm::RetryJob { id: 1, .. }))
    ));
    let effects = press(&mut s, KeyCode::Enter);
    assert!(matches!(
        requests(&effects)[..],
        [Request::Write(Write::RetryJob { id: 1, .. })]
    ));
}

#[test]
fn t_cycles_targets_and_store_changes_refresh_the_jobs_and_the_log_only_while_shown() {
    let mut jobs = queue();
    jobs[0].target = "cluster".into();
    let mut s = opened(jobs);
    typed(&mut s, "t");
    assert_eq!(s.jobs.target.as_deref(), Some("cluster"));
    assert_eq!(s.jobs.rows().len(), 1);
    typed(&mut s, "t");
    assert_eq!(s.jobs.target.as_deref(), Some("local"));
    assert_eq!(s.jobs.rows().len(), 4);
    typed(&mut s, "t");
    assert_eq!(s.jobs.target, None);
    // A store change asks for the jobs (the runs sidebar counts them too) and, while the
    // screen is shown, for what the selected job's log gained.
    let asked = |s: &mut State| -> Vec<crate::tui::worker::RequestKind> {
        let effects = crate::tui::app::update(
            s,
            Action::Changed {
                store: true,
                file: false,
            },
        );
        requests(&effects).iter().map(|r| r.kind()).collect()
    };
    use crate::tui::worker::RequestKind;
    let kinds = asked(&mut s);
    assert!(kinds.contains(&RequestKind::Jobs) && kinds.contains(&RequestKind::JobLog));
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.screen, Screen::Runs);
    let kinds = asked(&mut s);
    assert!(kinds.contains(&RequestKind::Jobs) && !kinds.contains(&RequestKind::JobLog));
}

#[test]
fn the_gpus_are_asked_for_every_few_seconds_while_shown_and_holders_come_from_bookings() {
    let mut s = opened(queue());
    let tick = |s: &mut State| crate::tui::app::update(s, Action::Tick);
    assert!(tick(&mut s).is_empty(), "just asked");
    s.now += GPU_REFRESH_MS;
    assert_eq!(requests(&tick(&mut s)), [&Request::Gpus]);
    let gpu = |index, pids: &[u32]| GpuInfo {
        index,
        uuid: format!("GPU-{index}"),
        name: "A100".into(),
        memory_used_mb: Some(1024),
        memory_total_mb: Some(40960),
        utilization_pct: Some(50),
        processes: pids
            .iter()
            .map(|pid| GpuProcess {
                pid: *pid,
                used_memory_mb: None,
            })
            .collect(),
    };
    answer(
        &mut s,
        Response::Gpus {
            gpus: vec![gpu(0, &[11]), gpu(1, &[12])],
            note: None,
        },
    );
    assert_eq!(s.jobs.holder(0, "gpu01").map(|j| j.id), Some(3));
    assert!(s.jobs.holder(1, "gpu01").is_none());
    assert!(s.jobs.holder(0, "other-box").is_none());
    press(&mut s, KeyCode::Esc);
    s.now += GPU_REFRESH_MS;
    assert!(
        tick(&mut s).is_empty(),
        "the runs table does not tick for GPUs"
    );
}

#[test]
fn rerun_from_the_runs_table_asks_for_the_run_and_opens_the_form() {
    let mut s = with_runs(2);
    let effects = typed(&mut s, "R");
    assert_eq!(
        requests(&effects),
        [&Request::RerunSource {
            run_id: "r0".into()
        }]
    );
    let mut d = crate::tui::screens::test_support::detail("r0", &[]);
    d.source.command = vec!["sh".into(), "x.sh".into()];
    let mut j = job(9, JobStatus::Finished, Some("r0"));
    j.target = "cluster".into();
    j.gpus = 2;
    answer(
        &mut s,
        Response::RerunSource {
            detail: Box::new(d),
            job: Some(Box::new(j)),
        },
    );
    let Some(Overlay::Launch(form)) = &s.overlay else {
        panic!("no form: {:?}", s.overlay)
    };
    assert_eq!(form.targets[form.target], "cluster");
    assert_eq!(form.gpus.text, "2");
    assert_eq!(form.command.text, "sh x.sh");
    assert_eq!(form.rerun_of.as_deref(), Some("r0"));
    // Marking two: rerun takes one.
    press(&mut s, KeyCode::Esc);
    typed(&mut s, "  R");
    assert!(s.message.as_ref().unwrap().error);
}

#[test]
fn a_click_selects_a_job_and_a_second_opens_its_run() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mut s = opened(queue());
    crate::tui::render_to_string(&mut s, 160, 48);
    let (area, _) = s.areas.list.expect("the list was drawn");
    let line = |id| {
        s.areas
            .job_lines
            .iter()
            .position(|j| *j == Some(id))
            .unwrap()
    };
    let click = |s: &mut State, line: usize| {
        crate::tui::app::update(
            s,
            Action::Mouse(MouseEvent {
                kind: MouseEventKind::Down(MouseButton::Left),
                column: area.x + 3,
                row: area.y + line as u16,
                modifiers: KeyModifiers::NONE,
            }),
        )
    };
    let (four, title) = (line(4), line(3) - 1);
    assert!(
        click(&mut s, title).is_empty(),
        "a group title is not a job"
    );
    assert_eq!(s.jobs.selected, Some(3));
    click(&mut s, four);
    assert_eq!(s.jobs.selected, Some(4));
    click(&mut s, four);
    assert_eq!(s.screen, Screen::Run);
    assert_eq!(s.run.as_ref().unwrap().id, "run4");
}

#[test]
fn gpus_a_local_target_lists_but_discovery_did_not_find_are_shown_too() {
    let mut s = opened(queue());
    let toml = "[targets.local]\nkind = \"local\"\ngpus = [1, 0, 3]\n\n[targets.box2]\nkind = \"local\"\ngpus = [3]\n";
    s.jobs.context.config =
        crate::config::Config::parse(toml, std::path::Path::new("kiroku.toml")).unwrap();
    answer(
        &mut s,
        Response::Gpus {
            gpus: vec![],
            note: Some("no NVIDIA driver".into()),
        },
    );
    assert_eq!(s.jobs.listed_not_found(), [0, 1, 3]);
    let screen = crate::tui::render_to_string(&mut s, 160, 48);
    assert!(!screen.contains("no GPUs"), "{screen}");
    let gpu0 = screen
        .lines()
        .find(|l| l.contains(" 0 listed, not found"))
        .unwrap();
    assert!(gpu0.contains("job 3 alice"), "{gpu0}");
}
