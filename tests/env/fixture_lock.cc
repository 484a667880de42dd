#include "env/fixture_lock.h"

#include <stdexcept>

#include "chart/images.h"
#include "chart/metadata.h"
#include "chart/package.h"
#include "env/process.h"
#include "io/stream.h"
#include "oci/manifest.h"

namespace sealift::testenv {

namespace {
lock::LockedImage locked(const chart::ChartImage* declared, const FixtureImage& f) {
  lock::LockedImage li;
  li.name = declared ? declared->name : f.name;
  li.component = declared ? declared->component : "";
  li.source = ref::Reference::parse(f.source);
  li.digest = oci::Digest::parse(f.digest);
  li.media_type = f.media_type;
  for (const auto& m : f.manifests) {
    oci::Platform p = oci::Platform::parse(m.platform);
    lock::LockedPlatform lp;
    lp.os = p.os;
    lp.architecture = p.architecture;
    lp.variant = p.variant;
    lp.digest = oci::Digest::parse(m.digest);
    lp.size = m.size;
    li.platforms.push_back(lp);
  }
  if (declared) li.values_paths = declared->values_paths;
  return li;
}
}  // namespace

lock::ImageLock fixture_lock(const FixtureSet& fixtures, const std::filesystem::path& chart_dir_in) {
  std::filesystem::path chart_dir = chart_dir_in.empty() ? source_dir() / "chart" : chart_dir_in;
  chart::Metadata md = chart::Metadata::load(chart_dir);
  io::StringSink sink;
  chart::Package pkg = chart::write_package(chart_dir, sink);
  lock::ImageLock lock;
  lock.chart = {md.name, md.version, pkg.digest};
  for (const auto& declared : chart::declared_images(md)) {
    const FixtureImage* match = nullptr;
    for (const auto& f : fixtures.images)
      if (f.source == declared.image.str()) match = &f;
    if (!match) throw std::runtime_error("no fixture stands in for " + declared.image.str());
    lock.images.push_back(locked(&declared, *match));
  }
  lock.sort();
  return lock;
}

void relock_image(lock::ImageLock& lock, const std::string& name, const FixtureImage& image) {
  for (auto& li : lock.images) {
    if (li.name != name) continue;
    lock::LockedImage fresh = locked(nullptr, image);
    fresh.name = li.name;
    fresh.component = li.component;
    fresh.values_paths = li.values_paths;
    li = fresh;
    return;
  }
  throw std::runtime_error("no image " + name + " in the lock");
}

std::vector<std::string> mirror_flags(const std::string& host) {
  return {"--mirror", "docker.io=" + host, "--mirror", "ghcr.io=" + host, "--mirror", "registry.k8s.io=" + host};
}

}  // namespace sealift::testenv
