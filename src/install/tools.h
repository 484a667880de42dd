// The tools a verified bundle carries for the installer host (docs/bundle-format.md §6, §7), and
// which helm the installer runs: --helm, else $SEALIFT_HELM, else the bundle's helm when it is for
// this host, else helm in PATH. A bundled tool is written out of the archive into the run's
// private work directory, hashed as it is written, and run only when its digest matches.
#pragma once

#include <filesystem>
#include <string>

#include "bundle/archive_reader.h"
#include "bundle/root.h"
#include "helm/helm.h"
#include "install/verify.h"

namespace sealift::install {

// The bundle's tool `name` for `platform`, or nullptr.
const bundle::RootTool* find_tool(const bundle::Root& root, const std::string& name, const std::string& platform);

// Writes the tool's binary from the archive to `dir`/<name>, mode 0700 (`dir` must be private to
// this run). Throws Error(Integrity) naming the entry, and removes the file, when its bytes do not
// have the digest and size sealift.json gives.
std::filesystem::path extract_tool(const bundle::ArchiveReader& reader, const bundle::RootTool& tool,
                                   const std::filesystem::path& dir);

struct ChosenHelm {
  helm::Located located;
  std::string version;  // the bundle's record for the bundle's helm, else empty until the caller asks the binary
  std::string note;     // why the bundle's helm is not used (another platform), or empty
};

// Which helm runs for a release from `bundle`: the user's choice (`chosen`, from
// helm::locate_chosen) when there is one, else the bundle's helm for this host (extracted into
// `dir`), else helm in PATH. Throws Error(Tool) naming what was tried when there is none.
ChosenHelm choose_helm(const std::optional<helm::Located>& chosen, const bundle::ArchiveReader& reader,
                       const VerifiedBundle& bundle, const std::filesystem::path& dir);

// "helm v3.21.4 (from the bundle)", "helm v4.3.1 at /usr/bin/helm (from PATH)": the line the
// installer prints.
std::string describe(const ChosenHelm& helm);

}  // namespace sealift::install
