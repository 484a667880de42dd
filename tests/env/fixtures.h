// The fixture images of the sealift chart (tests/env/fixtures/, a Go program built as
// sealift-fixtures): every image the chart uses, multi-arch (linux/amd64, linux/arm64), with layers
// shared the way real images share them, the same digests for the same scale and release.
// tests/env/fixtures/README.md lists the images and the upstream references they stand in for.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "env/registry.h"

namespace sealift::testenv {

// Path of the built generator (${build}/sealift-fixtures).
std::string fixtures_program();

struct FixtureOptions {
  // "1.0" is about 1 GB of unique blobs per platform (benchmarks); "0.01" about 10 MB.
  std::string scale = "0.01";
  // Release N tags the backend 1.(N-1).0 and changes only its top layer.
  int release = 1;
  // The backend's entrypoint exits at once (tag 1.(N-1).0-exits, same layers): an upgrade to it fails.
  bool backend_exits = false;
  // Image names (e.g. "postgres", "frontend"); empty means all.
  std::vector<std::string> only = {};
  // Path prepended to every repository in the registry (e.g. "mirror").
  std::string prefix = {};
  // Credentials for registries with token auth; Basic-auth registries use their own options.
  std::string user = {};
  std::string password = {};
  // When set, a size in GB: the big-bundle set of scripts/bench.sh (sealift-fixtures --big)
  // instead of the chart's images; scale and release do not apply.
  std::string big = {};
};

struct FixtureManifest {
  std::string platform;  // "linux/amd64", "linux/arm64"
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::string config;                 // config blob digest
  std::vector<std::string> layers;    // compressed layer digests, base first
  std::vector<std::string> diff_ids;  // uncompressed tar digests, as the config lists them
};

struct FixtureImage {
  std::string name;        // "postgres"
  std::string repository;  // "library/postgres" (with the prefix, if any)
  std::string tag;         // "16.4"
  std::string source;      // "docker.io/library/postgres:16.4"
  std::string media_type;  // of the index: OCI index or Docker manifest list
  std::string digest;      // of the index
  int64_t size = 0;
  std::vector<FixtureManifest> manifests;

  std::string reference() const { return repository + ":" + tag; }
  // The manifest of one platform ("linux/arm64"); throws if there is none.
  const FixtureManifest& platform(std::string_view platform) const;
};

struct FixtureSet {
  std::string scale;
  int release = 1;
  std::string registry;  // "127.0.0.1:PORT" after a push
  std::vector<FixtureImage> images;
  int64_t blobs = 0;  // distinct layer and config blobs
  int64_t bytes = 0;  // their total size
  std::map<std::string, int64_t> platform_bytes;
  std::string json;  // the generator's summary, verbatim

  // The image with this name ("postgres"); throws if there is none.
  const FixtureImage& image(std::string_view name) const;
};

FixtureSet parse_fixture_summary(const std::string& json);

// Writes the images as an OCI image layout into dir (index.json tags each index
// "repository:tag"; sealift-fixtures.json holds the summary).
FixtureSet generate_fixtures(const std::filesystem::path& dir, const FixtureOptions& opts = {});

// Pushes the images into the registry (TLS and credentials as the registry needs). With
// from_layout, pushes that generated layout instead of generating anew.
FixtureSet push_fixtures(const Registry& registry, const FixtureOptions& opts = {},
                         const std::filesystem::path& from_layout = {});

}  // namespace sealift::testenv
