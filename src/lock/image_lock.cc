#include "lock/image_lock.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "chart/images.h"
#include "chart/metadata.h"
#include "oci/manifest.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::lock {

namespace {

// Reads one YAML map with a fixed set of keys, failing with the file, line and key on anything else.
class Fields {
 public:
  Fields(std::string_view where, const YAML::Node& node, std::string context, std::set<std::string> allowed)
      : where_(where), node_(node), context_(std::move(context)) {
    if (!node.IsMap()) fail(node, fmt::format("{} must be a map", context_));
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) fail(kv.first, fmt::format("{}: keys must be strings", context_));
      const std::string key = kv.first.Scalar();
      if (!allowed.count(key)) fail(kv.first, fmt::format("{}: unknown field {:?}", context_, key));
    }
  }

  YAML::Node get(const char* key, bool required = true) const {
    YAML::Node v = node_[key];
    if (!v && required) fail(node_, fmt::format("{}: {} is required", context_, key));
    return v;
  }

  std::string string(const char* key, bool required = true) const {
    YAML::Node v = get(key, required);
    if (!v) return {};
    if (!v.IsScalar() || (required && v.Scalar().empty()))
      fail(v, fmt::format("{}: {} must be a non-empty string", context_, key));
    return v.Scalar();
  }

  oci::Digest digest(const char* key) const {
    const std::string text = string(key);
    if (!oci::Digest::valid(text))
      fail(node_[key], fmt::format("{}: {} {:?} is not sha256:<64 lowercase hex>", context_, key, text));
    return oci::Digest::parse(text);
  }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& what) const {
    const auto mark = at.Mark();
    if (mark.is_null()) throw Error(ErrorKind::Input, fmt::format("{}: {}", where_, what));
    throw Error(ErrorKind::Input, fmt::format("{}:{}: {}", where_, mark.line + 1, what));
  }

  // Errors after this name the object by what was read from it ("image \"redis\"").
  void set_context(std::string context) { context_ = std::move(context); }

 private:
  std::string_view where_;
  const YAML::Node& node_;
  std::string context_;
};

LockedPlatform parse_platform(std::string_view where, const YAML::Node& node, const std::string& context) {
  Fields f(where, node, context, {"os", "architecture", "variant", "digest", "size"});
  LockedPlatform p;
  p.os = f.string("os");
  p.architecture = f.string("architecture");
  p.variant = f.string("variant", false);
  p.digest = f.digest("digest");
  if (YAML::Node size = f.get("size", false)) {
    int64_t value = -1;
    if (!size.IsScalar() || !YAML::convert<int64_t>::decode(size, value) || value < 0)
      f.fail(size, fmt::format("{}: size must be a number of bytes", context));
    p.size = value;
  }
  return p;
}

LockedImage parse_image(std::string_view where, const YAML::Node& node, size_t index) {
  Fields f(where, node, fmt::format("images[{}]", index),
           {"name", "component", "source", "digest", "mediaType", "platforms", "valuesPaths"});
  LockedImage img;
  img.name = f.string("name");
  const std::string context = fmt::format("image {:?}", img.name);
  f.set_context(context);
  img.component = f.string("component");
  const std::string source = f.string("source");
  try {
    img.source = ref::Reference::parse(source);
  } catch (const Error& e) {
    f.fail(node["source"], fmt::format("{}: source: {}", context, e.what()));
  }
  // A missing tag would silently mean "latest": the source must name its tag.
  const std::string_view last = std::string_view(source).substr(source.rfind('/') == std::string::npos ? 0 : source.rfind('/'));
  if (last.find(':') == std::string_view::npos || img.source.digest)
    f.fail(node["source"], fmt::format("{}: source {:?} must be a reference with a tag and no digest", context, source));
  img.digest = f.digest("digest");
  img.media_type = f.string("mediaType");
  const bool index_type = oci::media::is_index(img.media_type);
  if (!index_type && !oci::media::is_manifest(img.media_type))
    f.fail(node["mediaType"], fmt::format("{}: mediaType {:?} is neither an image index nor an image manifest",
                                          context, img.media_type));
  YAML::Node platforms = f.get("platforms");
  if (!platforms.IsSequence() || platforms.size() == 0)
    f.fail(platforms, fmt::format("{}: platforms must be a non-empty list", context));
  std::set<std::string> seen;
  for (size_t i = 0; i < platforms.size(); ++i) {
    LockedPlatform p = parse_platform(where, platforms[i], fmt::format("{} platforms[{}]", context, i));
    if (!seen.insert(p.str()).second)
      f.fail(platforms[i], fmt::format("{}: platform {} is listed twice", context, p.str()));
    img.platforms.push_back(std::move(p));
  }
  if (!index_type && (img.platforms.size() != 1 || img.platforms[0].digest != img.digest))
    f.fail(platforms, fmt::format("{}: a single image manifest has exactly one platform, with the image's digest", context));
  YAML::Node paths = f.get("valuesPaths");
  if (!paths.IsSequence() || paths.size() == 0)
    f.fail(paths, fmt::format("{}: valuesPaths must be a non-empty list", context));
  for (const auto& p : paths) {
    if (!p.IsScalar() || !chart::valid_values_path(p.Scalar()))
      f.fail(p, fmt::format("{}: values path {:?} is not a dotted key path", context, p.IsScalar() ? p.Scalar() : "?"));
    img.values_paths.push_back(p.Scalar());
  }
  return img;
}

ImageLock parse_root(std::string_view where, const YAML::Node& root) {
  Fields f(where, root, "images.lock", {"apiVersion", "kind", "chart", "images"});
  if (f.string("apiVersion") != kApiVersion)
    f.fail(root["apiVersion"], fmt::format("apiVersion {:?} is not {}", root["apiVersion"].Scalar(), kApiVersion));
  if (f.string("kind") != kKind) f.fail(root["kind"], fmt::format("kind {:?} is not {}", root["kind"].Scalar(), kKind));
  ImageLock lock;
  YAML::Node chart = f.get("chart");
  Fields c(where, chart, "chart", {"name", "version", "digest"});
  lock.chart.name = c.string("name");
  lock.chart.version = c.string("version");
  lock.chart.digest = c.digest("digest");
  if (!chart::valid_name(lock.chart.name))
    c.fail(chart["name"], fmt::format("chart: name {:?} is not a chart name (lowercase letters, digits and inner '-')",
                                      lock.chart.name));
  if (!chart::valid_version(lock.chart.version))
    c.fail(chart["version"], fmt::format("chart: version {:?} is not a SemVer 2 version", lock.chart.version));
  YAML::Node images = f.get("images");
  if (!images.IsSequence() || images.size() == 0) f.fail(images, "images must be a non-empty list");
  std::set<std::string> names;
  std::map<std::string, std::string> path_owner;
  for (size_t i = 0; i < images.size(); ++i) {
    LockedImage img = parse_image(where, images[i], i);
    if (!names.insert(img.name).second) f.fail(images[i], fmt::format("image {:?} is listed twice", img.name));
    for (const auto& p : img.values_paths) {
      auto [it, fresh] = path_owner.emplace(p, img.name);
      if (!fresh)
        f.fail(images[i], fmt::format("values path {} selects both {:?} and {:?}", p, it->second, img.name));
    }
    lock.images.push_back(std::move(img));
  }
  lock.sort();
  return lock;
}

}  // namespace

std::string LockedPlatform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

bool LockedImage::has_digest(const oci::Digest& d) const {
  if (d == digest) return true;
  return std::any_of(platforms.begin(), platforms.end(), [&d](const LockedPlatform& p) { return p.digest == d; });
}

ImageLock ImageLock::parse(std::string_view yaml, std::string_view where) {
  try {
    return parse_root(where, YAML::Load(std::string(yaml)));
  } catch (const YAML::Exception& e) {
    throw Error(ErrorKind::Input, fmt::format("{}:{}:{}: {}", where, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

ImageLock ImageLock::load(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw Error(ErrorKind::Input, fmt::format("{} does not exist", file.string()),
                "create it with `sealift-bundle lock`");
  return parse(util::read_file(file), file.string());
}

void ImageLock::sort() {
  std::sort(images.begin(), images.end(), [](const LockedImage& a, const LockedImage& b) { return a.name < b.name; });
}

const LockedImage* ImageLock::find(std::string_view name) const {
  for (const auto& img : images)
    if (img.name == name) return &img;
  return nullptr;
}

std::string ImageLock::to_yaml() const {
  ImageLock sorted = *this;
  sorted.sort();
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << std::string(kApiVersion);
  out << YAML::Key << "kind" << YAML::Value << std::string(kKind);
  out << YAML::Key << "chart" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << chart.name;
  out << YAML::Key << "version" << YAML::Value << chart.version;
  out << YAML::Key << "digest" << YAML::Value << chart.digest.str();
  out << YAML::EndMap;
  out << YAML::Key << "images" << YAML::Value << YAML::BeginSeq;
  for (const auto& img : sorted.images) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << img.name;
    out << YAML::Key << "component" << YAML::Value << img.component;
    out << YAML::Key << "source" << YAML::Value << img.source.str();
    out << YAML::Key << "digest" << YAML::Value << img.digest.str();
    out << YAML::Key << "mediaType" << YAML::Value << img.media_type;
    out << YAML::Key << "platforms" << YAML::Value << YAML::BeginSeq;
    for (const auto& p : img.platforms) {
      out << YAML::BeginMap;
      out << YAML::Key << "os" << YAML::Value << p.os;
      out << YAML::Key << "architecture" << YAML::Value << p.architecture;
      if (!p.variant.empty()) out << YAML::Key << "variant" << YAML::Value << p.variant;
      out << YAML::Key << "digest" << YAML::Value << p.digest.str();
      if (p.size) out << YAML::Key << "size" << YAML::Value << *p.size;
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "valuesPaths" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& path : img.values_paths) out << path;
    out << YAML::EndSeq;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  if (!out.good()) throw Error(ErrorKind::Internal, fmt::format("cannot write images.lock: {}", out.GetLastError()));
  return "# images.lock: every image of the chart pinned by digest (sealift-bundle lock; docs/images-lock.md).\n" +
         std::string(out.c_str()) + "\n";
}

void ImageLock::save(const std::filesystem::path& file) const { util::write_file_atomic(file, to_yaml()); }

std::vector<std::string> diff(const ImageLock& on_disk, const ImageLock& fresh) {
  std::vector<std::string> out;
  if (on_disk.chart.name != fresh.chart.name)
    out.push_back(fmt::format("chart: name {} -> {}", on_disk.chart.name, fresh.chart.name));
  if (on_disk.chart.version != fresh.chart.version)
    out.push_back(fmt::format("chart: version {} -> {}", on_disk.chart.version, fresh.chart.version));
  if (on_disk.chart.digest != fresh.chart.digest)
    out.push_back(fmt::format("chart: digest {} -> {} (the chart's files changed)", on_disk.chart.digest.str(),
                              fresh.chart.digest.str()));
  for (const auto& now : fresh.images) {
    const LockedImage* was = on_disk.find(now.name);
    const std::string who = fmt::format("image {}", now.name);
    if (!was) {
      out.push_back(fmt::format("{}: {} is missing from the lock", who, now.source.str()));
      continue;
    }
    if (was->source != now.source) out.push_back(fmt::format("{}: source {} -> {}", who, was->source.str(), now.source.str()));
    if (was->component != now.component)
      out.push_back(fmt::format("{}: component {} -> {}", who, was->component, now.component));
    if (was->digest != now.digest)
      out.push_back(fmt::format("{}: {} now resolves to {} (locked: {})", who, now.source.str(), now.digest.str(),
                                was->digest.str()));
    if (was->media_type != now.media_type)
      out.push_back(fmt::format("{}: mediaType {} -> {}", who, was->media_type, now.media_type));
    for (const auto& p : now.platforms) {
      auto it = std::find_if(was->platforms.begin(), was->platforms.end(),
                             [&p](const LockedPlatform& q) { return q.str() == p.str(); });
      if (it == was->platforms.end()) out.push_back(fmt::format("{}: platform {} added", who, p.str()));
      else if (it->digest != p.digest)
        out.push_back(fmt::format("{}: platform {} digest {} -> {}", who, p.str(), it->digest.str(), p.digest.str()));
      else if (it->size != p.size)
        out.push_back(fmt::format("{}: platform {} size changed", who, p.str()));
    }
    for (const auto& q : was->platforms) {
      bool still = std::any_of(now.platforms.begin(), now.platforms.end(),
                               [&q](const LockedPlatform& p) { return p.str() == q.str(); });
      if (!still) out.push_back(fmt::format("{}: platform {} removed", who, q.str()));
    }
    if (was->values_paths != now.values_paths)
      out.push_back(fmt::format("{}: values paths [{}] -> [{}]", who, fmt::join(was->values_paths, ", "),
                                fmt::join(now.values_paths, ", ")));
  }
  for (const auto& was : on_disk.images)
    if (!fresh.find(was.name))
      out.push_back(fmt::format("image {}: in the lock but no longer in the chart", was.name));
  return out;
}

}  // namespace sealift::lock
