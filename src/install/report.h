// The install report (`install`/`upgrade --report report.json`): the evidence a customer's
// security office reads before it accepts a delivery. What was delivered (bundle, chart, every
// image with its source, digest and relocated reference), who signed it (the keys that verified
// each signature, by fingerprint, as read back from the target), what the push sent and what was
// already there, the helm revision, how long each phase took, and the images the cluster's
// workloads run, as the API server reports them. Written twice: JSON for machines, and one
// self-contained HTML page (inline CSS, no script, no external asset) for people; every value in
// the page is escaped, so a hostile image name stays text.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "helm/helm.h"
#include "install/push.h"
#include "install/relocation.h"
#include "install/verify.h"

namespace sealift::install {

struct PhaseTiming {
  std::string phase;  // "verify", "push", "helm", "cluster"
  double seconds = 0;
};

// Wall time of the phases of one run, in order.
class PhaseClock {
 public:
  // Ends the running phase (if any) and starts `phase`.
  void start(std::string phase);
  // Ends the running phase.
  void stop();
  const std::vector<PhaseTiming>& phases() const { return phases_; }

 private:
  std::vector<PhaseTiming> phases_;
  std::optional<std::chrono::steady_clock::time_point> since_;
};

// One container of a pod of the release, as the API server reports it.
struct WorkloadImage {
  std::string namespace_name;
  std::string workload;   // "Deployment/backend": the release's object that owns the pod
  std::string pod;
  std::string container;  // init containers too, named "(init) NAME"
  std::string image;      // the pod's spec
  std::string image_id;   // status.containerStatuses[].imageID: what the node pulled (empty until it has)
  std::string waiting;    // status.containerStatuses[].state.waiting.reason (ErrImagePull, ImagePullBackOff,
                          // CrashLoopBackOff...), with its message; empty when the container is not waiting
};

struct InstallReport {
  std::string command;  // "install" or "upgrade"
  std::string started;  // RFC 3339, UTC
  std::string finished;
  const VerifiedBundle* bundle = nullptr;
  const Relocation* relocation = nullptr;
  std::vector<std::string> vendor_keys;    // fingerprints of the --key keys
  std::vector<std::string> upstream_keys;  // ... of the --upstream-key keys
  std::string site_key;                    // ... of the --resign-key's public key; empty without one
  std::optional<PushReport> push;          // none with --skip-push
  // What the chart's pull secret holds, as chosen on the command line: "robot"
  // (--create-pull-robot), "pull-username" (--pull-username), "push-credentials"
  // (--pull-secret-from-push-credentials) or "none"; and whose they are.
  std::string pull_secret_source = "none";
  std::string pull_secret_user;
  std::string release, namespace_name, release_status;
  int revision = 0;
  std::vector<PhaseTiming> phases;
  std::vector<WorkloadImage> workloads;
};

// Throws Error(Usage) naming `path` when the report cannot be written there: its directory does
// not exist or is not a directory, or `path` is a directory. Called with the flags, before
// anything is pushed or installed.
void check_report_path(const std::filesystem::path& path);

// "report.json" -> "report.html": where the page goes unless --report-html says.
std::filesystem::path html_path_for(const std::filesystem::path& json_path);

nlohmann::ordered_json report_json(const InstallReport& report);
// One workload container as the report and `status --json` list it.
nlohmann::ordered_json workload_json(const WorkloadImage& w);
std::string report_html(const InstallReport& report);
// &, <, >, " and ' as character references: safe in text and in quoted attributes.
std::string html_escape(std::string_view text);

// Both files, written in full to temporary files, then renamed: a reader never sees half a report.
void write_report(const InstallReport& report, const std::filesystem::path& json_path,
                  const std::filesystem::path& html_path);

// The pods of `release` (the workloads in `helm get manifest`: Deployments, StatefulSets,
// DaemonSets, Jobs, CronJobs, Pods) and the images each container runs, asked of the API server
// through `kubectl` with the helm's KUBECONFIG and context. Throws Error(Tool) with kubectl's
// message when it fails.
std::vector<WorkloadImage> cluster_images(const helm::Helm& helm, const std::filesystem::path& kubectl,
                                          const std::string& release, const std::string& namespace_name,
                                          const std::string& kubeconfig, const std::string& kube_context);

// The current time as RFC 3339 UTC ("2026-12-04T15:00:00Z").
std::string utc_now();

}  // namespace sealift::install
