// A chart directory packaged as a .tgz that helm reads (install, template, show, push), made
// deterministic so that the same chart always has the same digest: entries sorted by path, one
// fixed modification time, owner 0:0, mode 0644, and a gzip header without a timestamp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "chart/metadata.h"
#include "io/stream.h"
#include "oci/digest.h"

namespace sealift::chart {

// The files helm would package from `chart_dir`: paths relative to it with '/' separators, in
// byte order, after helm's .helmignore rules (and its default rule ignoring templates/.*).
// Throws Error(Input) on an irregular file (device, socket) or a malformed .helmignore.
std::vector<std::string> package_files(const std::filesystem::path& chart_dir);

struct Package {
  std::string file_name;  // <name>-<version>.tgz
  oci::Digest digest;     // sha256 of the .tgz bytes
  uint64_t size = 0;
};

// Writes the package of `chart_dir` to `out`. Every entry gets modification time `mtime` (seconds
// since the epoch); the chart's digest depends on it, so the lock and the bundle use the default.
Package write_package(const std::filesystem::path& chart_dir, io::Sink& out, int64_t mtime = 0);

// Writes <out_dir>/<name>-<version>.tgz atomically (nothing half-written on failure).
struct PackagedChart {
  std::filesystem::path path;
  Package package;
  Metadata metadata;
};
PackagedChart package_to_dir(const std::filesystem::path& chart_dir, const std::filesystem::path& out_dir,
                             int64_t mtime = 0);

}  // namespace sealift::chart
