// The real helm binary, run as a child process (never through a shell). sealift renders, lints,
// installs and upgrades with it so that releases stay ordinary helm releases.
//
// Helm 3 and helm 4 both run; a few of the flags sealift passes were renamed in helm 4
// (helm.sh/helm/v4 pkg/cmd): --atomic is deprecated for --rollback-on-failure, --wait takes a
// strategy (sealift asks for "watcher", helm 4's own meaning of a bare --wait), and `template
// --validate` is deprecated for --dry-run=server. The *_args functions below say which flags each
// version gets; Helm asks its binary for its version once and uses them.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/process.h"

namespace sealift::helm {

// A helm binary and where it came from, for the line that tells the user which one runs.
struct Located {
  std::filesystem::path binary;
  std::string origin;  // "--helm", "SEALIFT_HELM", "the bundle", "PATH"
};

// The helm the user chose: `explicit_path` when given, else $SEALIFT_HELM; nullopt when neither is
// set. Throws Error(Tool) when the one chosen is not an executable file.
std::optional<Located> locate_chosen(const std::filesystem::path& explicit_path);
// "helm" in PATH. Throws Error(Tool) when there is none; `also_tried` (e.g. "the bundle carries no
// helm") goes into the message.
Located locate_in_path(const std::string& also_tried = {});
// Where helm is: `explicit_path` when given, else $SEALIFT_HELM, else "helm" in PATH. Throws
// Error(Tool) naming what was tried when none of them is an executable file. (The installer also
// looks in the bundle, between SEALIFT_HELM and PATH: install/tools.h.)
std::filesystem::path locate(const std::filesystem::path& explicit_path = {});

// The major versions of helm sealift drives.
enum class Major { v3 = 3, v4 = 4 };

// The major version of `binary`, from what `helm version --template '{{.Version}}'` printed
// ("v3.21.4", "v4.3.1-rc.1+abc"): the whole text must be that SemVer. Throws Error(Tool) naming the
// binary and what it printed for helm 2 (Tiller's helm), for a major version sealift does not
// know, and for anything else.
Major parse_major(std::string_view printed, const std::filesystem::path& binary);

// Values for one render or install: values files (-f, in order) and --set assignments.
struct Values {
  std::vector<std::filesystem::path> files;
  std::vector<std::string> set;  // "key=value"
};

struct TemplateOptions {
  std::string release = "sealift";
  std::string namespace_name = "default";
  Values values;
  // Kubernetes version the chart is rendered for (--kube-version); empty = helm's default.
  std::string kube_version;
  // --validate: render against the cluster of KUBECONFIG (its version and APIs) and check there.
  bool validate = false;
};

struct UpgradeOptions {
  std::string namespace_name = "default";
  Values values;
  bool install = true;         // --install: the first run installs
  bool wait = true;            // --wait: until workloads are ready
  bool atomic = false;         // --atomic: roll back on failure
  bool create_namespace = false;
  std::string timeout = "10m";  // helm duration
  std::string description;      // --description: recorded in the release (sealift: the bundle)
};

// The arguments (after the binary) each command takes from helm `major`. No helm is run.
std::vector<std::string> template_args(Major major, const std::filesystem::path& chart, const TemplateOptions& options);
std::vector<std::string> upgrade_args(Major major, const std::string& release, const std::filesystem::path& chart,
                                      const UpgradeOptions& options);
// `revision` 0: the previous one.
std::vector<std::string> rollback_args(Major major, const std::string& release, int revision,
                                       const std::string& namespace_name, bool wait, const std::string& timeout);

class Helm {
 public:
  // `env` is added to the environment of every helm run (KUBECONFIG, HELM_*_HOME, ...).
  explicit Helm(std::filesystem::path binary, std::map<std::string, std::string> env = {});

  const std::filesystem::path& binary() const { return binary_; }

  // `helm version --template '{{.Version}}'`, e.g. "v3.21.4": asked once, then remembered (so a
  // Helm is for one thread at a time). Throws Error(Tool) unless it is helm 3 or helm 4.
  const std::string& version() const;
  Major major() const;
  // The manifests of `chart` (a directory or .tgz) as helm renders them, a multi-document YAML
  // stream. Throws Error(Tool) carrying helm's message when rendering fails.
  std::string render(const std::filesystem::path& chart, const TemplateOptions& options) const;
  // `helm lint --strict`; returns helm's report, throws Error(Tool) with it when the chart fails.
  std::string lint(const std::filesystem::path& chart, const Values& values, const std::string& kube_version = {}) const;
  // `helm show chart`: the Chart.yaml helm reads from a directory or .tgz.
  std::string show_chart(const std::filesystem::path& chart) const;

  // Cluster operations (KUBECONFIG from env). Each returns helm's output; failures throw.
  std::string upgrade(const std::string& release, const std::filesystem::path& chart, const UpgradeOptions& options) const;
  // `helm status -o json` and `helm history -o json`.
  std::string status_json(const std::string& release, const std::string& namespace_name) const;
  std::string history_json(const std::string& release, const std::string& namespace_name) const;
  // `helm get values --revision N -o json`: the values the user (and sealift) gave that revision.
  // They may hold secrets (the pull secret's password): parse, never print.
  std::string values_json(const std::string& release, const std::string& namespace_name, int revision) const;
  // Back to `revision` (0 = the previous one).
  std::string rollback(const std::string& release, int revision, const std::string& namespace_name,
                       bool wait = true, const std::string& timeout = "10m") const;

  // Runs helm with `args`; throws Error(Tool) with helm's stderr on a non-zero exit.
  util::ProcessResult run(const std::vector<std::string>& args) const;

 private:
  std::filesystem::path binary_;
  std::map<std::string, std::string> env_;
  mutable std::optional<std::string> version_;
};

}  // namespace sealift::helm
