// Bundles for tests, made the way a vendor makes them: fixture images (env/fixtures.h) pushed to a
// real upstream registry, a small chart that declares them, an images.lock written from the
// fixture summary, a cosign key pair from `sealift-bundle keygen`, and `sealift-bundle build`
// pulling through --mirror. The installer's tests (verify, push, install, upgrade) start here.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bundle/archive_reader.h"
#include "env/fixtures.h"
#include "env/process.h"
#include "env/registry.h"
#include "lock/image_lock.h"

namespace sealift::testenv {

struct BundleSpec {
  // Fixture image names; the chart declares exactly these, each at values path <camelName>.image,
  // each a one-replica Deployment named after the image (values nodeSelector and tolerations: the
  // pods'; <camelName>.readinessProbe: that container's).
  std::vector<std::string> images = {"postgres", "redis", "fluent-bit", "frontend"};
  int release = 1;                         // fixture release (2 changes only the backend's top layer)
  bool backend_exits = false;              // the backend's entrypoint exits at once (FixtureOptions)
  std::string chart_version = "1.0.0";
  std::filesystem::path base;              // build a delta against this bundle
  std::string split_size;                  // e.g. "256K": numbered parts
  std::vector<std::string> platforms;      // --platform filters
  std::filesystem::path signing_key;       // default: the factory's vendor key (same password)
  std::filesystem::path include_helm;      // --include-helm (the tool artifact)
  std::string helm_version;                // --helm-version
  std::vector<std::string> build_args;     // more flags for `sealift-bundle build`
};

struct BuiltBundle {
  std::filesystem::path path;              // what sealift takes: the file, or the parts' base name
  std::vector<std::filesystem::path> files;
  std::filesystem::path chart_dir;
  std::filesystem::path lock_file;
  lock::ImageLock lock;
  FixtureSet fixtures;
};

class BundleFactory {
 public:
  // Starts the upstream registry and makes the vendor's key pair. With `upstream.basic_auth`, the
  // build gets the upstream's credentials through SEALIFT_REGISTRY_USER/SEALIFT_REGISTRY_PASSWORD.
  explicit BundleFactory(std::string scale = "0.01", RegistryOptions upstream = {});
  BundleFactory(const BundleFactory&) = delete;
  BundleFactory& operator=(const BundleFactory&) = delete;

  // Builds the bundle at `output`; throws std::runtime_error with the build's stderr on failure.
  BuiltBundle build(const BundleSpec& spec, const std::filesystem::path& output);

  // The vendor's key pair (cosign format) and the password of its private key.
  const std::filesystem::path& public_key() const { return public_key_; }
  const std::filesystem::path& private_key() const { return private_key_; }
  const std::string& key_password() const { return password_; }
  // Another key pair (made on first use, same password) in a directory of its own, beside its
  // cosign.key; returns the public key (e.g. for wrong-key tests).
  std::filesystem::path other_key(const std::string& name);

  Registry& upstream() { return *upstream_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  std::filesystem::path write_chart(const BundleSpec& spec, const FixtureSet& fixtures);
  std::filesystem::path keygen(const std::filesystem::path& dir);

  TempDir dir_;
  std::string scale_;
  std::unique_ptr<Registry> upstream_;
  std::filesystem::path public_key_, private_key_;
  std::string password_ = "vendor-key-pw";
  int charts_ = 0;
};

// The values key of a fixture image in the test chart: "fluent-bit" -> "fluentBit".
std::string values_key(const std::string& image_name);

// Copies the bundle at `from` to `to` with entries replaced (name -> new content), dropped
// (name -> nullopt) or added (a name the bundle lacks, appended at the end). The archive itself
// stays well-formed (a fresh table of contents and seek table), as someone tampering on purpose
// would leave it: only the content checks can tell.
void rewrite_bundle(const std::filesystem::path& from, const std::filesystem::path& to,
                    const std::map<std::string, std::optional<std::string>>& changes);

// The bytes of an unsplit bundle (`bytes`, opened as `reader`) with byte `at` of entry `entry`'s
// content XORed with `mask`. Only the zstd frame holding that byte is recompressed and the seek
// table updated, so the archive stays well-formed and only the content checks can tell: what
// rewrite_bundle does for a same-size change, without recompressing the whole bundle.
std::string flip_content_byte(const std::string& bytes, const bundle::ArchiveReader& reader, const std::string& entry,
                              uint64_t at, unsigned char mask = 0x01);

// Copies the (unsplit) bundle file with one byte flipped in the middle of the compressed zstd frame
// that holds the middle of entry `entry`'s content.
void flip_byte_in_entry(const std::filesystem::path& from, const std::filesystem::path& to, const std::string& entry);

}  // namespace sealift::testenv
