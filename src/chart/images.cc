#include "chart/images.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include <fmt/format.h>

#include "util/error.h"
#include "util/fs.h"

namespace sealift::chart {

namespace {

[[noreturn]] void bad(const std::string& what) {
  throw Error(ErrorKind::Input, fmt::format("Chart.yaml annotation {}: {}", kImagesAnnotation, what));
}

std::string scalar_field(const YAML::Node& entry, const char* key, size_t index) {
  const YAML::Node v = entry[key];
  if (!v || !v.IsScalar() || v.Scalar().empty()) bad(fmt::format("entry {} has no {}", index + 1, key));
  return v.Scalar();
}

YAML::Node load_yaml(const std::filesystem::path& file) {
  try {
    return YAML::Load(util::read_file(file));
  } catch (const YAML::Exception& e) {
    throw Error(ErrorKind::Input, fmt::format("{}:{}:{}: {}", file.string(), e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

}  // namespace

bool valid_values_path(std::string_view path) {
  bool segment_start = true;
  for (char c : path) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (c == '.') {
      if (segment_start) return false;
      segment_start = true;
    } else if (segment_start) {
      if (!letter) return false;
      segment_start = false;
    } else if (!letter && !digit && c != '-') {
      return false;
    }
  }
  return !segment_start;
}

std::vector<ChartImage> declared_images(const Metadata& metadata) {
  auto it = metadata.annotations.find(kImagesAnnotation);
  if (it == metadata.annotations.end())
    throw Error(ErrorKind::Input, fmt::format("chart {} has no {} annotation", metadata.name, kImagesAnnotation),
                "list every image of the chart in Chart.yaml (see docs/images-lock.md)");
  YAML::Node list;
  try {
    list = YAML::Load(it->second);
  } catch (const YAML::Exception& e) {
    bad(fmt::format("line {}: {}", e.mark.line + 1, e.msg));
  }
  if (!list.IsSequence() || list.size() == 0) bad("not a non-empty list");
  std::vector<ChartImage> out;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node entry = list[i];
    if (!entry.IsMap()) bad(fmt::format("entry {} is not a map", i + 1));
    for (const auto& kv : entry) {
      const std::string key = kv.first.as<std::string>();
      if (key != "name" && key != "image" && key != "component" && key != "valuesPaths")
        bad(fmt::format("entry {} has an unknown key {:?}", i + 1, key));
    }
    ChartImage img;
    img.name = scalar_field(entry, "name", i);
    if (!names.insert(img.name).second) bad(fmt::format("image {:?} is listed twice", img.name));
    const std::string text = scalar_field(entry, "image", i);
    img.image = ref::Reference::parse(text);
    // A missing tag would silently mean "latest": the annotation must name it.
    const auto slash = text.rfind('/');
    if (text.find(':', slash == std::string::npos ? 0 : slash) == std::string::npos || img.image.digest)
      bad(fmt::format("image {:?}: {} must be a reference with a tag and no digest", img.name, img.image.str()));
    img.component = scalar_field(entry, "component", i);
    const YAML::Node paths = entry["valuesPaths"];
    if (!paths || !paths.IsSequence() || paths.size() == 0)
      bad(fmt::format("image {:?} has no valuesPaths", img.name));
    for (const auto& p : paths) {
      if (!p.IsScalar() || !valid_values_path(p.Scalar()))
        bad(fmt::format("image {:?}: values path {:?} is not a dotted key path", img.name, p.IsScalar() ? p.Scalar() : "?"));
      img.values_paths.push_back(p.Scalar());
    }
    out.push_back(std::move(img));
  }
  return out;
}

std::vector<std::string> optional_components(const Metadata& metadata) {
  std::vector<std::string> out;
  auto it = metadata.annotations.find(kOptionalComponentsAnnotation);
  if (it == metadata.annotations.end()) return out;
  std::string_view rest = it->second;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
    if (!item.empty()) {
      if (!valid_values_path(item))
        throw Error(ErrorKind::Input, fmt::format("Chart.yaml annotation {}: {:?} is not a dotted key path",
                                                  kOptionalComponentsAnnotation, item));
      out.emplace_back(item);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

std::string ImageBlock::reference() const {
  std::string name = registry.empty() ? repository : registry + "/" + repository;
  return digest.empty() ? name + ":" + tag : name + "@" + digest;
}

ImageBlock image_block(const std::filesystem::path& values_file, const std::string& path) {
  YAML::Node node = load_yaml(values_file);
  std::string_view rest = path;
  while (!rest.empty()) {
    auto dot = rest.find('.');
    std::string key(rest.substr(0, dot));
    if (!node.IsMap() || !node[key])
      throw Error(ErrorKind::Input, fmt::format("{}: no value at {}", values_file.string(), path));
    node.reset(node[key]);  // rebind; operator= would overwrite the parent's content
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (!node.IsMap() || !node["repository"] || !node["repository"].IsScalar())
    throw Error(ErrorKind::Input, fmt::format("{}: {} is not an image block {{registry, repository, tag, digest}}",
                                              values_file.string(), path));
  auto field = [&node](const char* key) {
    const YAML::Node v = node[key];
    return v && v.IsScalar() ? v.Scalar() : std::string();
  };
  return ImageBlock{field("registry"), field("repository"), field("tag"), field("digest")};
}

std::vector<std::string> check_values(const std::filesystem::path& chart_dir, const std::vector<ChartImage>& images) {
  std::vector<std::string> problems;
  const auto values = chart_dir / "values.yaml";
  for (const auto& img : images) {
    for (const auto& path : img.values_paths) {
      ImageBlock block;
      try {
        block = image_block(values, path);
      } catch (const Error& e) {
        problems.push_back(fmt::format("{} ({}): {}", path, img.name, e.what()));
        continue;
      }
      std::string selected = block.reference();
      std::string normalised;
      try {
        normalised = ref::Reference::parse(selected).str();
      } catch (const Error& e) {
        problems.push_back(fmt::format("{} ({}): values.yaml selects {:?}: {}", path, img.name, selected, e.what()));
        continue;
      }
      if (normalised != img.image.str())
        problems.push_back(fmt::format("{} ({}): values.yaml selects {}, the annotation says {}", path, img.name,
                                       normalised, img.image.str()));
    }
  }
  return problems;
}

}  // namespace sealift::chart
