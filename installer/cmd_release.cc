#include "cmd_release.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/flags.h"
#include "cmd_push.h"
#include "cmd_verify.h"
#include "harbor/api.h"
#include "install/release.h"
#include "install/relocation.h"
#include "install/report.h"
#include "install/robots.h"
#include "install/tools.h"
#include "registry/client.h"
#include "registry/credentials.h"
#include "util/error.h"
#include "util/process.h"

namespace sealift::installer {

namespace {

struct HelmFlags {
  std::string release;
  std::string namespace_name = "sealift";
  std::vector<std::string> values;
  std::vector<std::string> set;
  std::string helm;
  std::string kubeconfig;
  std::string kube_context;
  std::string kubectl;
  std::string timeout = "10m";
  bool no_wait = false;
  bool no_atomic = false;
};

void add_helm_flags(CLI::App* cmd, HelmFlags& f, bool with_values) {
  cmd->add_option("--release", f.release, "Helm release name (default: the chart's name)");
  cmd->add_option("-n,--namespace", f.namespace_name, "Namespace of the helm release")->capture_default_str();
  if (with_values) {
    cmd->add_option("-f,--values", f.values, "Values file, layered under sealift's relocation values; repeatable");
    cmd->add_option("--set", f.set, "key=value, layered over everything; repeatable");
  }
  cmd->add_option("--helm", f.helm,
                  with_values ? "helm binary (default: $SEALIFT_HELM, else the bundle's helm, else helm in PATH)"
                              : "helm binary (default: $SEALIFT_HELM, else helm in PATH)");
  cmd->add_option("--kubeconfig", f.kubeconfig, "kubeconfig file (default: $KUBECONFIG)");
  cmd->add_option("--kube-context", f.kube_context, "kubeconfig context");
  cmd->add_option("--kubectl", f.kubectl,
                  "kubectl binary, to read the workloads for --report and say why pods were not ready when helm's "
                  "wait runs out (default: kubectl in PATH)");
}

// --kubectl, else kubectl in PATH; empty when there is none.
std::filesystem::path kubectl_binary(const HelmFlags& f) {
  if (f.kubectl.empty()) return util::find_in_path("kubectl");
  if (::access(f.kubectl.c_str(), X_OK) != 0 || std::filesystem::is_directory(f.kubectl))
    throw Error(ErrorKind::Usage, fmt::format("--kubectl {} is not an executable file", f.kubectl));
  return f.kubectl;
}

// The helm to run, its major version asked once here (helm 3 and 4 take different flags), so a
// helm sealift cannot drive is refused before anything is pushed or installed.
helm::Helm make_helm(const HelmFlags& f, const std::filesystem::path& binary) {
  std::map<std::string, std::string> env;
  if (!f.kubeconfig.empty()) env["KUBECONFIG"] = f.kubeconfig;
  if (!f.kube_context.empty()) env["HELM_KUBECONTEXT"] = f.kube_context;
  helm::Helm helm(binary, env);
  helm.version();
  return helm;
}

// The helm for a release from a verified bundle (install/tools.h), said in one line.
helm::Helm bundle_helm(const HelmFlags& f, const std::optional<helm::Located>& chosen,
                       const bundle::ArchiveReader& reader, const install::VerifiedBundle& verified,
                       const install::Workspace& ws, const cli::OutputFlags& out) {
  install::ChosenHelm h = install::choose_helm(chosen, reader, verified, ws.path());
  if (!out.quiet && !out.json && !h.note.empty()) fmt::print("note: {}\n", h.note);
  helm::Helm helm = make_helm(f, h.located.binary);
  h.version = helm.version();
  if (!out.quiet && !out.json) fmt::print("using {}\n", install::describe(h));
  return helm;
}

struct ReleaseFlags {
  std::string bundle;
  TrustFlags trust;
  std::string registry;
  std::string project;
  bool create_project = false;
  std::string signature_format = "both";
  ResignFlags resign;
  std::string report;       // --report: the install report's JSON
  std::string report_html;  // --report-html: its page (default: beside the JSON, .html)
  bool keep_source_host = false;
  bool skip_push = false;
  bool dry_run = false;
  bool create_pull_robot = false;
  int robot_duration_days = harbor::kDefaultRobotDays;
  bool robot_duration_given = false;  // --robot-duration on the command line: Harbor only
  std::string registry_type = "auto";
  bool allow_downgrade = false;
  std::string pull_username;
  bool pull_secret_from_push_credentials = false;
  int jobs = 8;
  HelmFlags helm;
  cli::RegistryFlags target;
  cli::OutputFlags out;
};

void add_target_flags(CLI::App* cmd, ReleaseFlags& f) {
  cmd->add_option("bundle", f.bundle, "The bundle file, or its first part (.000)")->required();
  add_trust_flags(cmd, f.trust);
  cmd->add_option("--registry", f.registry, "Registry host, as the cluster reaches it (harbor.example.com)")->required();
  cmd->add_option("--project", f.project, "Harbor project; on another registry, the repositories' path prefix")->required();
  cmd->add_flag("--keep-source-host", f.keep_source_host,
                "Keep the source registry in the path (PROJECT/docker.io/library/postgres)");
  cli::add_registry_flags(cmd, f.target, "target registry");
  cli::add_output_flags(cmd, f.out);
}

install::ReleaseOptions release_options(const HelmFlags& h, bool dry_run) {
  install::ReleaseOptions o;
  o.release = h.release;
  o.namespace_name = h.namespace_name;
  for (const auto& v : h.values) o.values_files.push_back(v);
  o.set = h.set;
  o.timeout = h.timeout;
  o.wait = !h.no_wait;
  o.atomic = !h.no_atomic;
  o.dry_run = dry_run;
  o.kubectl = {kubectl_binary(h), h.kubeconfig, h.kube_context};
  return o;
}

// Where --report and --report-html go, checked before anything is pushed or installed; and the
// kubectl that asks the cluster for the workloads' images. Empty paths without --report.
struct ReportTarget {
  std::filesystem::path json, html, kubectl;
};

ReportTarget report_target(const ReleaseFlags& f) {
  if (f.report.empty()) {
    if (!f.report_html.empty()) throw Error(ErrorKind::Usage, "--report-html without --report", "add --report report.json");
    return {};
  }
  if (f.dry_run) throw Error(ErrorKind::Usage, "--report with --dry-run: a dry run installs nothing to report on");
  ReportTarget t{f.report, f.report_html.empty() ? install::html_path_for(f.report) : std::filesystem::path(f.report_html), {}};
  if (t.json == t.html)
    throw Error(ErrorKind::Usage, fmt::format("--report and --report-html both name {}", t.json.string()),
                "give the JSON and the page different names");
  install::check_report_path(t.json);
  install::check_report_path(t.html);
  t.kubectl = kubectl_binary(f.helm);
  if (t.kubectl.empty())
    throw Error(ErrorKind::Usage, "--report needs kubectl in PATH: the report lists the images the cluster's workloads run",
                "install kubectl or give --kubectl, or drop --report");
  return t;
}

std::vector<std::string> fingerprints(const sign::TrustedKeys& keys) {
  std::vector<std::string> out;
  for (const auto& k : keys.keys()) out.push_back(k.fingerprint());
  return out;
}

// What the chart's pull secret holds, chosen before anything is pushed or installed. Outside
// Harbor there is no pull robot, and the push credentials (often able to write every repository)
// go into the cluster only when --pull-secret-from-push-credentials says so.
struct PullSecret {
  std::string source = "none";  // install::InstallReport::pull_secret_source
  std::optional<install::PullCredentials> credentials;  // unset for "none" and "robot" (made later)
};

PullSecret choose_pull_secret(const ReleaseFlags& f, const TargetRegistry& target,
                              const registry::Credentials& push_credentials) {
  if (int{f.create_pull_robot} + int{!f.pull_username.empty()} + int{f.pull_secret_from_push_credentials} > 1)
    throw Error(ErrorKind::Usage,
                "--create-pull-robot, --pull-username and --pull-secret-from-push-credentials each choose the chart's "
                "pull secret",
                "give one of them");
  PullSecret p;
  if (f.create_pull_robot) {
    p.source = "robot";
  } else if (!f.pull_username.empty()) {
    const char* pw = std::getenv("SEALIFT_PULL_PASSWORD");
    if (!pw) throw Error(ErrorKind::Usage, "--pull-username needs the password in SEALIFT_PULL_PASSWORD");
    p.source = "pull-username";
    p.credentials = install::PullCredentials{f.pull_username, pw};
  } else if (f.pull_secret_from_push_credentials) {
    if (push_credentials.anonymous())
      throw Error(ErrorKind::Usage, "--pull-secret-from-push-credentials, but the push is anonymous",
                  "give the credentials (--username, SEALIFT_REGISTRY_USER), or drop the flag: no pull secret is made");
    p.source = "push-credentials";
    p.credentials = install::PullCredentials{push_credentials.username, push_credentials.password};
  } else if (!target.kind.harbor && !push_credentials.anonymous()) {
    throw Error(ErrorKind::Usage,
                fmt::format("{} is {}: it has no pull robots, so say what the chart's pull secret holds", f.registry,
                            target.kind.describe()),
                fmt::format("give --pull-username NAME (its password in SEALIFT_PULL_PASSWORD) for a pull-only "
                            "account, or --pull-secret-from-push-credentials to give the cluster the credentials of "
                            "\"{}\" (from {})",
                            push_credentials.username, push_credentials.origin));
  }
  return p;
}

// install and upgrade: verify, push (unless --skip-push), then helm upgrade --install.
void run_release(const ReleaseFlags& f, bool upgrade) {
  const ReportTarget report_to = report_target(f);
  install::InstallReport report;
  report.command = upgrade ? "upgrade" : "install";
  report.started = install::utc_now();
  install::PhaseClock clock;
  std::optional<sign::PrivateKey> site_key = load_resign_key(f.resign, f.trust);
  if (site_key && f.skip_push)
    throw Error(ErrorKind::Usage, "--resign-key with --skip-push: the site signs the images as it pushes them",
                "drop --skip-push, or sign with `sealift-install push --resign-key` first");
  sign::TrustedKeys keys = trusted_keys(f.trust);
  registry::Credentials credentials = registry::resolve_credentials(
      f.registry, f.target.credentials(), registry::read_password_from_stdin, registry::process_environment());
  std::vector<std::string> harbor_only;
  if (f.create_project) harbor_only.push_back("--create-project");
  if (f.create_pull_robot) harbor_only.push_back("--create-pull-robot");
  if (f.robot_duration_given) harbor_only.push_back("--robot-duration");
  // --skip-push calls none of Harbor's API unless a pull robot is to be made: no credentials needed.
  TargetRegistry target_registry =
      find_target_registry(f.registry, f.project, f.target.http(), credentials, f.registry_type, harbor_only,
                           f.out.quiet, !f.skip_push || f.create_pull_robot);
  if (!f.skip_push) note_signature_forms(target_registry.kind, f.signature_format, f.out.quiet);
  const PullSecret pull = choose_pull_secret(f, target_registry, credentials);
  report.pull_secret_source = pull.source;
  if (pull.credentials) report.pull_secret_user = pull.credentials->username;
  // A wrong --helm or SEALIFT_HELM fails before the bundle is read; the bundle's helm is known after.
  std::optional<helm::Located> chosen = helm::locate_chosen(f.helm.helm);
  install::ReleaseOptions ro = release_options(f.helm, f.dry_run);

  bundle::ArchiveReader reader(f.bundle);
  util::Progress progress(f.out.mode());
  // The release reads only the chart from the bundle (checked); the push checks each layer it sends.
  clock.start("verify");
  install::VerifiedBundle verified =
      verify_for_command(reader, keys, f.trust, f.jobs, progress, install::VerifyScope::AllButLayers);
  clock.stop();
  install::Relocation relocation =
      install::relocate(verified.root, verified.lock, {f.registry, f.project, f.keep_source_host});
  std::string release = ro.release.empty() ? verified.root.chart.name : ro.release;
  install::Workspace ws;
  helm::Helm helm = bundle_helm(f.helm, chosen, reader, verified, ws, f.out);

  bool installed = true;
  try {
    install::release_status(helm, release, ro.namespace_name);
  } catch (const Error&) {
    installed = false;
  }
  if (upgrade && !installed)
    throw Error(ErrorKind::Usage, fmt::format("no release {} in namespace {} to upgrade", release, ro.namespace_name),
                "use `sealift-install install` for the first installation");
  if (installed)
    install::check_not_downgrade(helm, release, ro.namespace_name, verified.root.chart, f.allow_downgrade);

  if (!f.skip_push) {
    PushTarget target{f.target.http(), credentials,
                      {f.create_project, f.dry_run, f.jobs, f.signature_format == "legacy", site_key ? &*site_key : nullptr}};
    clock.start("push");
    install::PushReport pr =
        push_verified(reader, verified, relocation, keys, target_registry.harbor.get(), target, progress);
    clock.stop();
    report.push = pr;
    if (!f.out.quiet && !f.out.json)
      fmt::print("pushed to {}/{}: {} blobs uploaded ({}), {} mounted, {} already there; {} tags written\n",
                 relocation.registry, relocation.project, pr.blobs_uploaded, util::human_bytes(pr.bytes_uploaded),
                 pr.blobs_mounted, pr.blobs_skipped, pr.tags_written);
  }

  if (f.create_pull_robot && !f.dry_run) {
    install::CreatedPullRobot created = install::create_pull_robot(
        *target_registry.harbor, {f.project, release, ro.namespace_name, verified.root.version, f.robot_duration_days});
    ro.pull = install::PullCredentials{created.robot.name, created.robot.secret};
    if (!f.out.quiet && !f.out.json) {
      fmt::print("pull robot {} created (pull-only on {}, {})\n", created.robot.name, f.project,
                 f.robot_duration_days < 0 ? std::string("never expires")
                                           : fmt::format("expires in {} days", f.robot_duration_days));
      if (!created.taken.empty())
        fmt::print("  robot${}+{} exists from an earlier run; `sealift-install robots prune` deletes it once no "
                   "revision uses it\n",
                   f.project, created.taken);
    }
    report.pull_secret_user = created.robot.name;
  } else if (pull.credentials) {
    ro.pull = pull.credentials;
    // Said even under --quiet: the cluster now holds credentials that may write to the registry.
    if (pull.source == "push-credentials")
      fmt::print(stderr,
                 "note: the chart's pull secret holds the push credentials of \"{}\" (from "
                 "{}; --pull-secret-from-push-credentials)\n",
                 credentials.username, credentials.origin);
  }

  install::PreparedRelease prepared = install::prepare_release(reader, verified, relocation, ro, ws);
  progress.begin("helm upgrade --install", 0);
  clock.start("helm");
  install::ReleaseReport r = install::install_release(helm, prepared, verified, relocation, ro);
  clock.stop();
  progress.end();
  if (!report_to.json.empty()) {
    clock.start("cluster");
    report.workloads = install::cluster_images(helm, report_to.kubectl, r.release, r.namespace_name,
                                               f.helm.kubeconfig, f.helm.kube_context);
    clock.stop();
    report.finished = install::utc_now();
    report.bundle = &verified;
    report.relocation = &relocation;
    report.vendor_keys = fingerprints(keys);
    for (const auto& k : f.trust.upstream_keys) report.upstream_keys.push_back(sign::PublicKey::from_file(k).fingerprint());
    if (site_key) report.site_key = site_key->public_key().fingerprint();
    report.release = r.release;
    report.namespace_name = r.namespace_name;
    report.revision = r.revision;
    report.release_status = r.status;
    report.phases = clock.phases();
    install::write_report(report, report_to.json, report_to.html);
  }
  if (f.out.json) {
    fmt::print("{}\n", nlohmann::json{{"release", r.release},
                                      {"namespace", r.namespace_name},
                                      {"revision", r.revision},
                                      {"status", r.status},
                                      {"bundle", prepared.description},
                                      {"dryRun", f.dry_run}}
                           .dump());
  } else if (!f.out.quiet) {
    if (f.dry_run)
      fmt::print("dry run: {} would be installed as release {} in {}; the air-gap lint passed\n",
                 prepared.description, r.release, r.namespace_name);
    else
      fmt::print("release {} in {}: revision {}, {} ({})\n", r.release, r.namespace_name, r.revision, r.status,
                 prepared.description);
  }
}

// A positive number of days, or -1 on purpose: Harbor's own "never expires", for a site that rotates
// robots by other means. 0 and other negatives mean nothing to Harbor.
const CLI::Validator robot_duration(
    [](std::string& text) -> std::string {
      try {
        size_t used = 0;
        int days = std::stoi(text, &used);
        if (used == text.size() && (days > 0 || days == -1)) return {};
      } catch (const std::exception&) {
      }
      return fmt::format("{} is not a positive number of days (or -1: never expires)", text);
    },
    "DAYS");

void add_release_command(CLI::App& app, bool upgrade) {
  auto f = std::make_shared<ReleaseFlags>();
  CLI::App* cmd = app.add_subcommand(
      upgrade ? "upgrade" : "install",
      upgrade ? "Verify and push a newer bundle (full or delta), then upgrade the release; a failed upgrade rolls back"
              : "Verify, push to Harbor (or any OCI registry), then install the chart with helm so every image comes "
                "from there by digest");
  add_target_flags(cmd, *f);
  add_helm_flags(cmd, f->helm, true);
  cmd->add_flag("--create-project", f->create_project, "Create the Harbor project when missing (private; Harbor only)");
  add_signature_format_flag(cmd, f->signature_format);
  add_resign_flags(cmd, f->resign);
  cmd->add_option("--report", f->report,
                  "Write the install report here (JSON), and beside it the same as one self-contained HTML page "
                  "(.html): what was delivered, verified, signed, pushed and installed, and what the cluster runs");
  cmd->add_option("--report-html", f->report_html, "Write the report's HTML page here instead (needs --report)");
  cmd->add_flag("--skip-push", f->skip_push, "The bundle is already pushed; only install");
  cmd->add_flag("--create-pull-robot", f->create_pull_robot,
                "Create a pull-only Harbor robot account and give the chart its credentials as the pull secret "
                "(Harbor only)");
  CLI::Option* duration = cmd->add_option("--robot-duration", f->robot_duration_days,
                                          "Days until the pull robot expires (-1: never; `robots prune` deletes unused "
                                          "ones; Harbor only)")
                              ->capture_default_str()
                              ->check(robot_duration);
  add_registry_type_flag(cmd, f->registry_type);
  cmd->add_option("--pull-username", f->pull_username,
                  "Existing pull credentials for the chart's pull secret (password in SEALIFT_PULL_PASSWORD)");
  cmd->add_flag("--pull-secret-from-push-credentials", f->pull_secret_from_push_credentials,
                "Give the chart's pull secret the credentials this push uses (outside Harbor, with credentials, "
                "this or --pull-username is required)");
  cmd->add_option("--timeout", f->helm.timeout, "helm --timeout")->capture_default_str();
  cmd->add_flag("--no-wait", f->helm.no_wait, "Do not wait for workloads to be ready");
  cmd->add_flag("--no-atomic", f->helm.no_atomic, "Keep a failed upgrade instead of rolling back");
  cmd->add_flag("--allow-downgrade", f->allow_downgrade,
                "Accept a bundle whose chart is older than the installed release's (refused otherwise)");
  cmd->add_flag("--dry-run", f->dry_run, "Say what would be pushed, created and installed; change nothing");
  cmd->add_option("-j,--jobs", f->jobs, "Parallel blob transfers")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->callback([f, upgrade, duration] {
    f->robot_duration_given = duration->count() > 0;
    run_release(*f, upgrade);
  });
}

struct ExportFlags {
  ReleaseFlags target;
  std::string dir;
  std::string kube_version = "1.36.0";
};

void run_export(const ExportFlags& e) {
  const ReleaseFlags& f = e.target;
  sign::TrustedKeys keys = trusted_keys(f.trust);
  std::optional<helm::Located> chosen = helm::locate_chosen(f.helm.helm);
  bundle::ArchiveReader reader(f.bundle);
  util::Progress progress(f.out.mode());
  install::VerifiedBundle verified = verify_for_command(reader, keys, f.trust, f.jobs, progress);
  install::Relocation relocation =
      install::relocate(verified.root, verified.lock, {f.registry, f.project, f.keep_source_host});
  install::ReleaseOptions ro = release_options(f.helm, false);
  ro.kube_version = e.kube_version;
  install::Workspace ws;
  helm::Helm helm = bundle_helm(f.helm, chosen, reader, verified, ws, f.out);
  install::PreparedRelease prepared = install::prepare_release(reader, verified, relocation, ro, ws);
  const install::ExportedRelease written = install::export_release(helm, prepared, verified, relocation, ro, e.dir);
  if (f.out.json)
    fmt::print("{}\n", nlohmann::json{{"relocationValues", written.relocation_values.string()},
                                      {"manifests", written.manifests.string()},
                                      {"chart", written.chart.string()},
                                      {"bundle", prepared.description}}
                           .dump());
  else if (!f.out.quiet)
    fmt::print("wrote {0}/relocation-values.yaml, {0}/manifests.yaml and the chart package\n", e.dir);
}

void run_status(const HelmFlags& h, const cli::OutputFlags& out) {
  helm::Helm helm = make_helm(h, helm::locate(h.helm));
  if (h.release.empty()) throw Error(ErrorKind::Usage, "--release is required");
  install::ReleaseStatus s = install::release_status(helm, h.release, h.namespace_name);
  // What the release's containers run as the nodes report it, and why one waits (ErrImagePull,
  // ImagePullBackOff: the node cannot pull from the target; CrashLoopBackOff). Needs kubectl.
  const std::filesystem::path kubectl = kubectl_binary(h);
  std::vector<install::WorkloadImage> containers;
  if (!kubectl.empty())
    containers = install::cluster_images(helm, kubectl, s.release, s.namespace_name, h.kubeconfig, h.kube_context);
  if (out.json) {
    nlohmann::json listed = nlohmann::json::array();
    for (const auto& c : containers) listed.push_back(nlohmann::json(install::workload_json(c)));
    fmt::print("{}\n", nlohmann::json{{"release", s.release},
                                      {"namespace", s.namespace_name},
                                      {"revision", s.revision},
                                      {"status", s.status},
                                      {"chart", s.chart},
                                      {"appVersion", s.app_version},
                                      {"bundle", s.description},
                                      {"updated", s.updated},
                                      {"containers", kubectl.empty() ? nlohmann::json(nullptr) : listed}}
                           .dump());
    return;
  }
  if (out.quiet) return;
  fmt::print("release {} in {}: revision {}, {}\nchart {} (app {})\nfrom {}\nupdated {}\n", s.release,
             s.namespace_name, s.revision, s.status, s.chart, s.app_version, s.description, s.updated);
  if (kubectl.empty()) {
    fmt::print("containers: not listed (no kubectl in PATH; give --kubectl)\n");
    return;
  }
  for (const auto& c : containers)
    fmt::print("{}/{} {}: {}\n  {}{}\n", c.namespace_name, c.pod, c.container, c.image,
               c.image_id.empty() ? "not pulled" : "runs " + c.image_id,
               c.waiting.empty() ? "" : ", waiting: " + c.waiting);
}

struct PruneFlags {
  HelmFlags helm;
  std::string registry;
  std::string project;
  bool dry_run = false;
  int min_age_minutes = 60;
  std::string registry_type = "auto";
  cli::RegistryFlags target;
  cli::OutputFlags out;
};

void run_prune(const PruneFlags& f) {
  helm::Helm helm = make_helm(f.helm, helm::locate(f.helm.helm));
  registry::Credentials credentials = registry::resolve_credentials(
      f.registry, f.target.credentials(), registry::read_password_from_stdin, registry::process_environment());
  TargetRegistry target_registry = find_target_registry(f.registry, f.project, f.target.http(), credentials,
                                                        f.registry_type, {"robots prune"}, f.out.quiet);
  harbor::HarborApi& harbor = *target_registry.harbor;
  std::vector<install::RevisionPull> history = install::release_pull_users(helm, f.helm.release, f.helm.namespace_name);
  install::RobotPrunePlan plan =
      install::plan_robot_prune(harbor.list_project_robots(f.project), history, f.helm.release, f.helm.namespace_name,
                                static_cast<int64_t>(std::time(nullptr)), int64_t{f.min_age_minutes} * 60);
  if (!f.dry_run)
    for (const auto& r : plan.remove) harbor.delete_robot(r);
  if (f.out.json) {
    nlohmann::json kept = nlohmann::json::array(), removed = nlohmann::json::array(), left = nlohmann::json::array();
    for (const auto& k : plan.keep) kept.push_back({{"name", k.robot.name}, {"id", k.robot.id}, {"why", k.why}});
    for (const auto& r : plan.remove) removed.push_back({{"name", r.name}, {"id", r.id}});
    for (const auto& r : plan.unattributed) left.push_back({{"name", r.name}, {"id", r.id}});
    fmt::print("{}\n", nlohmann::json{{"release", f.helm.release},
                                      {"namespace", f.helm.namespace_name},
                                      {"project", f.project},
                                      {"dryRun", f.dry_run},
                                      {"kept", kept},
                                      {f.dry_run ? "wouldDelete" : "deleted", removed},
                                      {"unattributed", left}}
                           .dump());
    return;
  }
  if (f.out.quiet) return;
  for (const auto& k : plan.keep) fmt::print("keep   {} ({})\n", k.robot.name, k.why);
  for (const auto& r : plan.remove) fmt::print("{} {}\n", f.dry_run ? "would delete" : "delete", r.name);
  if (!plan.unattributed.empty())
    fmt::print("note: {} robot(s) made by an older sealift name no release; delete them in Harbor once unused\n",
               plan.unattributed.size());
  fmt::print("{}{} of release {}'s pull robots in {} {}, {} kept\n", f.dry_run ? "dry run: " : "", plan.remove.size(),
             f.helm.release, f.project, f.dry_run ? "would be deleted" : "deleted", plan.keep.size());
}

void add_robots_command(CLI::App& app) {
  CLI::App* robots = app.add_subcommand("robots", "Manage the Harbor pull robots sealift creates");
  robots->require_subcommand(1);
  auto f = std::make_shared<PruneFlags>();
  CLI::App* prune = robots->add_subcommand(
      "prune", "Delete the release's pull robots that no revision in its helm history uses");
  add_helm_flags(prune, f->helm, false);
  prune->get_option("--release")->required()->description("Helm release whose pull robots to prune");
  prune->add_option("--registry", f->registry, "Harbor host")->required();
  prune->add_option("--project", f->project, "Harbor project")->required();
  prune->add_flag("--dry-run", f->dry_run, "List what would be deleted; delete nothing");
  prune->add_option("--min-age", f->min_age_minutes,
                    "Keep robots younger than this many minutes (an install may be about to record its use)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  add_registry_type_flag(prune, f->registry_type);
  cli::add_registry_flags(prune, f->target, "Harbor");
  cli::add_output_flags(prune, f->out);
  prune->callback([f] { run_prune(*f); });
}

}  // namespace

void add_release_commands(CLI::App& app) {
  add_release_command(app, false);
  add_release_command(app, true);

  auto e = std::make_shared<ExportFlags>();
  CLI::App* ex = app.add_subcommand("export", "Write the relocation values and the rendered manifests (for GitOps tools)");
  add_target_flags(ex, e->target);
  add_helm_flags(ex, e->target.helm, true);
  ex->add_option("-o,--output-dir", e->dir, "Directory to write into")->required();
  ex->add_option("--kube-version", e->kube_version, "Kubernetes version to render for (no cluster is contacted)")
      ->capture_default_str();
  ex->callback([e] { run_export(*e); });

  auto h = std::make_shared<HelmFlags>();
  auto out = std::make_shared<cli::OutputFlags>();
  CLI::App* st = app.add_subcommand("status", "Show the release and the bundle it came from");
  add_helm_flags(st, *h, false);
  cli::add_output_flags(st, *out);
  st->callback([h, out] { run_status(*h, *out); });

  add_robots_command(app);
}

}  // namespace sealift::installer
