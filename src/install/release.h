// Installing and upgrading the application from a pushed bundle with the real helm: the chart
// comes out of the bundle (verified), the relocation values point every image block at the target
// registry by digest, and the air-gap lint proves that on the rendered manifests before helm
// touches the cluster. Releases stay ordinary helm releases; their description records the bundle.
//
// Values order (later wins): the chart's values.yaml < the user's -f files (in order) < the
// relocation values < the pull-secret values < the user's --set. So users choose configuration,
// sealift chooses where images come from, and --set remains the explicit last word.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bundle/archive_reader.h"
#include "helm/helm.h"
#include "install/kubectl.h"
#include "install/relocation.h"
#include "install/verify.h"

namespace sealift::install {

struct PullCredentials {
  std::string username;
  std::string password;  // never logged; written only to a 0600 values file
};

struct ReleaseOptions {
  std::string release;                  // default: the chart's name
  std::string namespace_name = "sealift";
  std::vector<std::filesystem::path> values_files;
  std::vector<std::string> set;
  std::optional<PullCredentials> pull;  // becomes the chart's pull secret
  bool atomic = true;
  bool wait = true;
  std::string timeout = "10m";
  bool create_namespace = true;
  bool dry_run = false;
  // Render for this Kubernetes version without a cluster (export); empty = ask the cluster.
  std::string kube_version;
  // Asked why pods were not ready when helm's wait runs out; no binary = nobody to ask.
  Kubectl kubectl;
};

// A private scratch directory (0700) holding the chart and the values files of one run; removed
// when it goes out of scope.
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  const std::filesystem::path& path() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// What helm is given for a bundle: the chart package and the values stack.
struct PreparedRelease {
  std::filesystem::path chart;           // the .tgz from the bundle
  std::filesystem::path relocation;      // relocation values (0600)
  std::optional<std::filesystem::path> pull_secret;  // pull-secret values (0600)
  helm::Values values;                   // the full stack, in order
  std::string release;
  std::string description;               // "sealift bundle NAME VERSION (sha256:...)"
};

PreparedRelease prepare_release(const bundle::ArchiveReader& reader, const VerifiedBundle& bundle,
                                const Relocation& relocation, const ReleaseOptions& options, const Workspace& ws);

// Renders the release as helm would install it and checks that every image is pulled from the
// target registry by a digest the bundle carries. Throws Error(Input) listing each offender
// (kind/namespace/name/container). Returns the rendered manifests.
std::string lint_release(const helm::Helm& helm, const PreparedRelease& prepared, const VerifiedBundle& bundle,
                         const Relocation& relocation, const ReleaseOptions& options);

struct ReleaseReport {
  std::string release;
  std::string namespace_name;
  int revision = 0;
  std::string status;
  std::string output;  // helm's own output
};

// helm upgrade --install with the prepared values; with `dry_run`, only the lint runs.
ReleaseReport install_release(const helm::Helm& helm, const PreparedRelease& prepared, const VerifiedBundle& bundle,
                              const Relocation& relocation, const ReleaseOptions& options);

// The files export_release wrote.
struct ExportedRelease {
  std::filesystem::path relocation_values;
  std::filesystem::path manifests;
  std::filesystem::path chart;  // the chart package from the bundle
};

// Writes the relocation values and the rendered manifests into `dir` (for GitOps tools).
ExportedRelease export_release(const helm::Helm& helm, const PreparedRelease& prepared, const VerifiedBundle& bundle,
                               const Relocation& relocation, const ReleaseOptions& options,
                               const std::filesystem::path& dir);

struct ReleaseStatus {
  std::string release, namespace_name, status, chart, app_version, description, updated;
  int revision = 0;
};
ReleaseStatus release_status(const helm::Helm& helm, const std::string& release, const std::string& namespace_name);

// SemVer 2 precedence of two versions ("1.2.3", "v1.2.3-rc.1+build"): <0, 0 or >0; nullopt when
// either is not SemVer.
std::optional<int> compare_versions(std::string_view a, std::string_view b);

// Before an upgrade: throws Error(Usage) when the bundle's chart is older (SemVer) than the chart of
// the release's last deployed revision, unless `allow_downgrade`. A presented older bundle may be
// a replay of a validly signed old release; going back is a decision the user makes on purpose.
void check_not_downgrade(const helm::Helm& helm, const std::string& release, const std::string& namespace_name,
                         const bundle::RootChart& chart, bool allow_downgrade);

}  // namespace sealift::install
