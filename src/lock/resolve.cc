#include "lock/resolve.h"

#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chart/images.h"
#include "chart/package.h"
#include "oci/manifest.h"
#include "registry/client.h"
#include "util/error.h"

namespace sealift::lock {

namespace fs = std::filesystem;

namespace {

// One client per host, made on first use with that host's credentials.
class Clients {
 public:
  explicit Clients(const ResolveOptions& o) : options_(o) {}

  registry::RegistryClient& for_source(const std::string& source_registry) {
    auto m = options_.mirrors.find(source_registry);
    const std::string host = m != options_.mirrors.end() ? m->second : source_registry;
    auto& slot = clients_[host];
    if (!slot) {
      registry::RegistryOptions ro;
      ro.http = options_.http;
      ro.credentials = registry::resolve_credentials(host, options_.credentials, registry::read_password_from_stdin,
                                                     registry::process_environment());
      slot = std::make_unique<registry::RegistryClient>(host, ro);
    }
    return *slot;
  }

 private:
  const ResolveOptions& options_;
  std::map<std::string, std::unique_ptr<registry::RegistryClient>> clients_;
};

// Index entries that are not runnable images: BuildKit attestations and unknown platforms.
bool runnable(const oci::Descriptor& d) {
  if (!d.platform || d.platform->os.empty() || d.platform->os == "unknown") return false;
  return !d.annotations.count("vnd.docker.reference.type");
}

// The platform of a single image manifest, from its config blob.
LockedPlatform platform_of(registry::RegistryClient& client, const std::string& repository, const oci::Manifest& m,
                           const std::string& who) {
  io::StringSink config;
  client.fetch_blob(repository, m.config(), config);
  nlohmann::json j = nlohmann::json::parse(config.out, nullptr, false);
  if (!j.is_object() || !j.contains("os") || !j["os"].is_string() || !j.contains("architecture") ||
      !j["architecture"].is_string())
    throw Error(ErrorKind::Input, fmt::format("{}: the image config names no os and architecture", who));
  LockedPlatform p;
  p.os = j["os"].get<std::string>();
  p.architecture = j["architecture"].get<std::string>();
  if (j.contains("variant") && j["variant"].is_string()) p.variant = j["variant"].get<std::string>();
  p.digest = m.digest();
  p.size = m.size();
  return p;
}

LockedImage resolve_image(Clients& clients, const chart::ChartImage& declared) {
  const std::string who = fmt::format("image {} ({})", declared.name, declared.image.str());
  auto& client = clients.for_source(declared.image.registry);
  const oci::Manifest m = client.get_manifest(declared.image.repository, declared.image.tag);
  LockedImage img;
  img.name = declared.name;
  img.component = declared.component;
  img.source = declared.image;
  img.digest = m.digest();
  img.media_type = m.media_type();
  img.values_paths = declared.values_paths;
  if (m.is_index()) {
    for (const auto& d : m.manifests()) {
      if (!runnable(d)) continue;
      if (!oci::media::is_manifest(d.media_type))
        throw Error(ErrorKind::Input, fmt::format("{}: index entry {} is a {}, not an image manifest", who,
                                                  d.digest.str(), d.media_type));
      img.platforms.push_back({d.platform->os, d.platform->architecture, d.platform->variant, d.digest, d.size});
    }
    if (img.platforms.empty())
      throw Error(ErrorKind::Input, fmt::format("{}: the index lists no runnable platform", who));
  } else {
    img.platforms.push_back(platform_of(client, declared.image.repository, m, who));
  }
  return img;
}

}  // namespace

ImageLock resolve(const fs::path& chart_dir, const ResolveOptions& options) {
  const chart::Metadata metadata = chart::Metadata::load(chart_dir);
  const auto declared = chart::declared_images(metadata);
  if (auto problems = chart::check_values(chart_dir, declared); !problems.empty()) {
    std::string list;
    for (const auto& p : problems) list += "\n  " + p;
    throw Error(ErrorKind::Input,
                fmt::format("{}/values.yaml does not select the images Chart.yaml declares:{}", chart_dir.string(), list),
                fmt::format("make the image blocks and the {} annotation agree", chart::kImagesAnnotation));
  }
  ImageLock lock;
  oci::HashingSink package;
  chart::write_package(chart_dir, package);
  lock.chart = {metadata.name, metadata.version, package.finish()};
  Clients clients(options);
  for (const auto& d : declared) {
    lock.images.push_back(resolve_image(clients, d));
    if (options.on_image) options.on_image(lock.images.back());
  }
  lock.sort();
  return lock;
}

CheckResult check(const fs::path& chart_dir, const fs::path& lock_file, const ResolveOptions& options) {
  CheckResult r;
  r.fresh = resolve(chart_dir, options);
  std::error_code ec;
  if (!fs::exists(lock_file, ec)) {
    r.differences.push_back(fmt::format("{} does not exist", lock_file.string()));
    return r;
  }
  r.differences = diff(ImageLock::load(lock_file), r.fresh);
  return r;
}

}  // namespace sealift::lock
