// `sealift-bundle lock`: resolves every image the chart declares against its registry (or a mirror
// standing in for it) and makes the images.lock of the chart, and `lock --check`: tells whether the
// lock on disk is still what the chart and the registries say.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lock/image_lock.h"
#include "registry/credentials.h"
#include "registry/http.h"

namespace sealift::lock {

struct ResolveOptions {
  // Source registry -> host that serves its images ("docker.io" -> "127.0.0.1:5000"). The lock
  // still records the source.
  std::map<std::string, std::string> mirrors;
  registry::HttpOptions http;
  registry::CredentialFlags credentials;
  // Called after each image is resolved (for progress lines).
  std::function<void(const LockedImage&)> on_image;
};

// The lock of `chart_dir` as the registries answer now. Throws Error(Input) when values.yaml does
// not select what the chart's images annotation declares, and registry errors as they come.
ImageLock resolve(const std::filesystem::path& chart_dir, const ResolveOptions& options);

struct CheckResult {
  ImageLock fresh;
  std::vector<std::string> differences;  // empty: the lock file is up to date
};

// Resolves afresh and compares with `lock_file`; a missing file is one difference.
CheckResult check(const std::filesystem::path& chart_dir, const std::filesystem::path& lock_file,
                  const ResolveOptions& options);

}  // namespace sealift::lock
