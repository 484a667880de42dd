#include "chart/metadata.h"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "util/error.h"
#include "util/fs.h"

namespace sealift::chart {

namespace {

[[noreturn]] void fail(std::string_view where, const YAML::Node& node, std::string_view what) {
  const auto mark = node.Mark();
  if (mark.is_null()) throw Error(ErrorKind::Input, fmt::format("{}: {}", where, what));
  throw Error(ErrorKind::Input, fmt::format("{}:{}:{}: {}", where, mark.line + 1, mark.column + 1, what));
}

std::string scalar(std::string_view where, const YAML::Node& node, std::string_view field) {
  if (node.IsNull()) return {};
  if (!node.IsScalar()) fail(where, node, fmt::format("{} must be a string", field));
  return node.Scalar();
}

bool boolean(std::string_view where, const YAML::Node& node, std::string_view field) {
  if (node.IsNull()) return false;
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value))
    fail(where, node, fmt::format("{} must be true or false", field));
  return value;
}

std::vector<std::string> strings(std::string_view where, const YAML::Node& node, std::string_view field) {
  std::vector<std::string> out;
  if (node.IsNull()) return out;
  if (!node.IsSequence()) fail(where, node, fmt::format("{} must be a list of strings", field));
  for (const auto& item : node) out.push_back(scalar(where, item, field));
  return out;
}

nlohmann::json to_json(std::string_view where, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      return node.Scalar();
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(to_json(where, item));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = to_json(where, kv.second);
      return out;
    }
    default:
      fail(where, node, "unsupported YAML node");
  }
}

Maintainer parse_maintainer(std::string_view where, const YAML::Node& node) {
  if (!node.IsMap()) fail(where, node, "each maintainer must be a map of name, email, url");
  Maintainer m;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (key == "name") m.name = scalar(where, kv.second, "maintainers[].name");
    else if (key == "email") m.email = scalar(where, kv.second, "maintainers[].email");
    else if (key == "url") m.url = scalar(where, kv.second, "maintainers[].url");
    else fail(where, kv.first, fmt::format("unknown maintainer field {:?}", key));
  }
  return m;
}

Dependency parse_dependency(std::string_view where, const YAML::Node& node) {
  if (!node.IsMap()) fail(where, node, "each dependency must be a map");
  Dependency d;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "name") d.name = scalar(where, v, "dependencies[].name");
    else if (key == "version") d.version = scalar(where, v, "dependencies[].version");
    else if (key == "repository") d.repository = scalar(where, v, "dependencies[].repository");
    else if (key == "condition") d.condition = scalar(where, v, "dependencies[].condition");
    else if (key == "alias") d.alias = scalar(where, v, "dependencies[].alias");
    else if (key == "tags") d.tags = strings(where, v, "dependencies[].tags");
    else if (key == "enabled") d.enabled = boolean(where, v, "dependencies[].enabled");
    else if (key == "import-values") {
      if (!v.IsSequence() && !v.IsNull()) fail(where, v, "dependencies[].import-values must be a list");
      if (v.IsSequence()) d.import_values = to_json(where, v);
    } else fail(where, kv.first, fmt::format("unknown dependency field {:?}", key));
  }
  if (d.name.empty()) fail(where, node, "a dependency has no name");
  return d;
}

// Go's encoding/json escapes <, > and & (HTML safety) and U+2028/U+2029; nlohmann does not.
std::string go_escaping(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else if (c == '\xE2' && i + 2 < json.size() && json[i + 1] == '\x80' && (json[i + 2] == '\xA8' || json[i + 2] == '\xA9')) {
      out += json[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

Metadata parse_node(const YAML::Node& root, std::string_view where) {
  if (!root.IsMap()) throw Error(ErrorKind::Input, fmt::format("{}: not a map of chart fields", where));
  Metadata m;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "apiVersion") m.api_version = scalar(where, v, key);
    else if (key == "name") m.name = scalar(where, v, key);
    else if (key == "version") m.version = scalar(where, v, key);
    else if (key == "description") m.description = scalar(where, v, key);
    else if (key == "type") m.type = scalar(where, v, key);
    else if (key == "appVersion") m.app_version = scalar(where, v, key);
    else if (key == "kubeVersion") m.kube_version = scalar(where, v, key);
    else if (key == "home") m.home = scalar(where, v, key);
    else if (key == "icon") m.icon = scalar(where, v, key);
    else if (key == "condition") m.condition = scalar(where, v, key);
    else if (key == "tags") m.tags = scalar(where, v, key);
    else if (key == "deprecated") m.deprecated = boolean(where, v, key);
    else if (key == "keywords") m.keywords = strings(where, v, key);
    else if (key == "sources") m.sources = strings(where, v, key);
    else if (key == "maintainers") {
      if (!v.IsSequence() && !v.IsNull()) fail(where, v, "maintainers must be a list");
      for (const auto& item : v) m.maintainers.push_back(parse_maintainer(where, item));
    } else if (key == "annotations") {
      if (!v.IsMap() && !v.IsNull()) fail(where, v, "annotations must be a map of strings");
      for (const auto& a : v) m.annotations[a.first.as<std::string>()] = scalar(where, a.second, "annotation");
    } else if (key == "dependencies") {
      if (!v.IsSequence() && !v.IsNull()) fail(where, v, "dependencies must be a list");
      for (const auto& item : v) m.dependencies.push_back(parse_dependency(where, item));
    } else {
      fail(where, kv.first, fmt::format("unknown field {:?}", key));
    }
  }
  if (m.api_version.empty()) throw Error(ErrorKind::Input, fmt::format("{}: apiVersion is required", where));
  if (m.name.empty()) throw Error(ErrorKind::Input, fmt::format("{}: name is required", where));
  if (m.version.empty()) throw Error(ErrorKind::Input, fmt::format("{}: version is required", where));
  if (!valid_name(m.name))
    throw Error(ErrorKind::Input,
                fmt::format("{}: name {:?} is not a chart name (lowercase letters, digits and inner '-')", where, m.name));
  if (!valid_version(m.version))
    throw Error(ErrorKind::Input, fmt::format("{}: version {:?} is not a SemVer 2 version (e.g. 1.2.3)", where, m.version));
  return m;
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '-' || name.back() == '-') return false;
  return name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string_view::npos;
}

bool valid_version(std::string_view version) {
  // semver.org's grammar: MAJOR.MINOR.PATCH, numbers without leading zeros; then "-" and dot-separated
  // pre-release identifiers (alphanumerics and '-'; numeric ones without leading zeros); then "+"
  // and dot-separated build identifiers (alphanumerics and '-').
  constexpr std::string_view kIdentifier = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-";
  auto numeric = [](std::string_view s) { return s.find_first_not_of("0123456789") == std::string_view::npos; };
  auto identifiers = [&](std::string_view s, bool no_leading_zero) {
    while (true) {
      const size_t dot = s.find('.');
      const std::string_view id = s.substr(0, dot);
      if (id.empty() || id.find_first_not_of(kIdentifier) != std::string_view::npos) return false;
      if (no_leading_zero && numeric(id) && id.size() > 1 && id.front() == '0') return false;
      if (dot == std::string_view::npos) return true;
      s.remove_prefix(dot + 1);
    }
  };
  if (version.size() > 256) return false;
  std::string_view rest = version;
  std::string_view build, pre;
  if (size_t plus = rest.find('+'); plus != std::string_view::npos) {
    build = rest.substr(plus + 1);
    rest = rest.substr(0, plus);
    if (!identifiers(build, false)) return false;
  }
  if (size_t dash = rest.find('-'); dash != std::string_view::npos) {
    pre = rest.substr(dash + 1);
    rest = rest.substr(0, dash);
    if (!identifiers(pre, true)) return false;
  }
  for (int part = 0; part < 3; ++part) {
    const size_t dot = rest.find('.');
    if ((part < 2) == (dot == std::string_view::npos)) return false;
    const std::string_view n = rest.substr(0, dot);
    if (n.empty() || !numeric(n) || (n.size() > 1 && n.front() == '0')) return false;
    rest = part < 2 ? rest.substr(dot + 1) : std::string_view();
  }
  return true;
}

Metadata Metadata::parse(std::string_view yaml, std::string_view where) {
  try {
    return parse_node(YAML::Load(std::string(yaml)), where);
  } catch (const YAML::Exception& e) {
    throw Error(ErrorKind::Input, fmt::format("{}:{}:{}: {}", where, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

Metadata Metadata::load(const std::filesystem::path& chart_dir) {
  const auto file = chart_dir / "Chart.yaml";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw Error(ErrorKind::Input, fmt::format("{} has no Chart.yaml", chart_dir.string()),
                "name the directory of a Helm chart");
  return parse(util::read_file(file), file.string());
}

std::string Metadata::config_json() const {
  // Field order and omitempty of helm.sh/helm/v3 pkg/chart/metadata.go and dependency.go.
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  auto put = [&j](const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  auto put_list = [&j](const char* key, const std::vector<std::string>& value) {
    if (!value.empty()) j[key] = value;
  };
  put("name", name);
  put("home", home);
  put_list("sources", sources);
  put("version", version);
  put("description", description);
  put_list("keywords", keywords);
  if (!maintainers.empty()) {
    auto& list = j["maintainers"] = nlohmann::ordered_json::array();
    for (const auto& m : maintainers) {
      nlohmann::ordered_json e = nlohmann::ordered_json::object();
      if (!m.name.empty()) e["name"] = m.name;
      if (!m.email.empty()) e["email"] = m.email;
      if (!m.url.empty()) e["url"] = m.url;
      list.push_back(std::move(e));
    }
  }
  put("icon", icon);
  put("apiVersion", api_version);
  put("condition", condition);
  put("tags", tags);
  put("appVersion", app_version);
  if (deprecated) j["deprecated"] = true;
  if (!annotations.empty()) {
    auto& a = j["annotations"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : annotations) a[k] = v;  // std::map: sorted, as Go marshals maps
  }
  put("kubeVersion", kube_version);
  if (!dependencies.empty()) {
    auto& list = j["dependencies"] = nlohmann::ordered_json::array();
    for (const auto& d : dependencies) {
      nlohmann::ordered_json e = nlohmann::ordered_json::object();
      e["name"] = d.name;
      if (!d.version.empty()) e["version"] = d.version;
      e["repository"] = d.repository;
      if (!d.condition.empty()) e["condition"] = d.condition;
      if (!d.tags.empty()) e["tags"] = d.tags;
      if (d.enabled) e["enabled"] = true;
      if (!d.import_values.empty()) e["import-values"] = nlohmann::ordered_json::parse(d.import_values.dump());
      if (!d.alias.empty()) e["alias"] = d.alias;
      list.push_back(std::move(e));
    }
  }
  put("type", type);
  return go_escaping(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

}  // namespace sealift::chart
