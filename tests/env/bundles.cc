#include "env/bundles.h"

#include <zstd.h>

#include <fstream>
#include <memory>
#include <span>
#include <sstream>
#include <stdexcept>

#include "bundle/archive_reader.h"
#include "bundle/archive_writer.h"
#include "bundle/parted_file.h"
#include "bundle/seekable_format.h"
#include "chart/package.h"
#include "io/stream.h"
#include "ref/reference.h"
#include "util/fs.h"

namespace sealift::testenv {

namespace fs = std::filesystem;

namespace {

// "linux/arm64/v8" -> os, architecture, variant.
lock::LockedPlatform locked_platform(const FixtureManifest& m) {
  lock::LockedPlatform p;
  std::stringstream in(m.platform);
  std::getline(in, p.os, '/');
  std::getline(in, p.architecture, '/');
  std::getline(in, p.variant, '/');
  p.digest = oci::Digest::parse(m.digest);
  p.size = m.size;
  return p;
}

std::string component_of(const std::string& name) { return name == "frontend" || name == "backend" ? name : "platform"; }

}  // namespace

std::string values_key(const std::string& image_name) {
  std::string out;
  bool upper = false;
  for (char c : image_name) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

BundleFactory::BundleFactory(std::string scale, RegistryOptions upstream)
    : dir_("sealift-bundles"), scale_(std::move(scale)) {
  upstream_ = std::make_unique<Registry>(std::move(upstream));
  private_key_ = dir_ / "vendor/cosign.key";
  public_key_ = keygen(dir_ / "vendor");
}

fs::path BundleFactory::keygen(const fs::path& dir) {
  fs::create_directories(dir);
  RunResult r = run({bundle_program(), "keygen", "--dir", dir.string()}, {{"COSIGN_PASSWORD", password_}});
  if (r.exit_code != 0) throw std::runtime_error("sealift-bundle keygen failed: " + r.err);
  return dir / "cosign.pub";
}

fs::path BundleFactory::other_key(const std::string& name) {
  fs::path dir = dir_ / ("keys-" + name);
  return fs::exists(dir / "cosign.pub") ? dir / "cosign.pub" : keygen(dir);
}

fs::path BundleFactory::write_chart(const BundleSpec& spec, const FixtureSet& fixtures) {
  fs::path chart = dir_ / ("chart-" + std::to_string(++charts_)) / "sealift-test-app";
  fs::create_directories(chart / "templates");
  std::string annotation, values, deployments;
  for (const auto& name : spec.images) {
    const FixtureImage& image = fixtures.image(name);
    ref::Reference source = ref::Reference::parse(image.source);
    std::string key = values_key(name);
    annotation += "    - name: " + name + "\n      image: " + image.source + "\n      component: " + component_of(name) +
                  "\n      valuesPaths: [" + key + ".image]\n";
    values += key + ":\n  image:\n    registry: " + source.registry + "\n    repository: " + source.repository +
              "\n    tag: \"" + source.tag + "\"\n    digest: \"\"\n";
    deployments += "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
                   "\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: " + name +
                   "}\n  template:\n    metadata:\n      labels: {app: " + name +
                   "}\n    spec:\n      {{- if .Values.global.pullSecret.create }}\n"
                   "      imagePullSecrets: [{name: registry-credentials}]\n      {{- end }}\n"
                   "      containers:\n        - name: " + name + "\n          image: {{ include \"image\" .Values." +
                   key + ".image }}\n          {{- with .Values." + key +
                   ".readinessProbe }}\n          readinessProbe: {{- toYaml . | nindent 12 }}\n          {{- end }}\n"
                   "      {{- with .Values.nodeSelector }}\n      nodeSelector: {{- toYaml . | nindent 8 }}\n      {{- end }}\n"
                   "      {{- with .Values.tolerations }}\n      tolerations: {{- toYaml . | nindent 8 }}\n      {{- end }}\n";
  }
  util::write_file_atomic(chart / "Chart.yaml",
                          "apiVersion: v2\nname: sealift-test-app\ndescription: A small application for sealift's tests\n"
                          "type: application\nversion: " +
                              spec.chart_version + "\nappVersion: \"" + spec.chart_version +
                              "\"\nannotations:\n  sealift.dev/images: |\n" + annotation);
  // global.pullSecret is what sealift-install sets for the chart's pull secret (as chart/ has it).
  util::write_file_atomic(chart / "values.yaml", "global:\n  pullSecret:\n    create: false\n" + values);
  util::write_file_atomic(
      chart / "templates/pull-secret.yaml",
      "{{- with .Values.global.pullSecret }}\n{{- if .create }}\napiVersion: v1\nkind: Secret\n"
      "type: kubernetes.io/dockerconfigjson\nmetadata:\n  name: registry-credentials\ndata:\n"
      "  .dockerconfigjson: {{ dict \"auths\" (dict .registry (dict \"auth\" (printf \"%s:%s\" .username .password | b64enc))) "
      "| toJson | b64enc }}\n{{- end }}\n{{- end }}\n");
  util::write_file_atomic(chart / "templates/_image.tpl",
                          "{{- define \"image\" -}}\n"
                          "{{- if .digest -}}{{ .registry }}/{{ .repository }}@{{ .digest }}"
                          "{{- else -}}{{ .registry }}/{{ .repository }}:{{ .tag }}{{- end -}}\n"
                          "{{- end -}}\n");
  util::write_file_atomic(chart / "templates/deployments.yaml", deployments);
  return chart;
}

BuiltBundle BundleFactory::build(const BundleSpec& spec, const fs::path& output) {
  FixtureOptions fo;
  fo.scale = scale_;
  fo.release = spec.release;
  fo.backend_exits = spec.backend_exits;
  fo.only = spec.images;
  BuiltBundle out;
  out.fixtures = push_fixtures(*upstream_, fo);
  out.chart_dir = write_chart(spec, out.fixtures);

  for (const auto& name : spec.images) {
    const FixtureImage& image = out.fixtures.image(name);
    lock::LockedImage locked;
    locked.name = name;
    locked.component = component_of(name);
    locked.source = ref::Reference::parse(image.source);
    locked.digest = oci::Digest::parse(image.digest);
    locked.media_type = image.media_type;
    for (const auto& m : image.manifests) locked.platforms.push_back(locked_platform(m));
    locked.values_paths = {values_key(name) + ".image"};
    out.lock.images.push_back(std::move(locked));
  }
  io::StringSink package;
  chart::Package pkg = chart::write_package(out.chart_dir, package);
  out.lock.chart = {"sealift-test-app", spec.chart_version, pkg.digest};
  out.lock.sort();
  out.lock_file = out.chart_dir.parent_path() / "images.lock";
  out.lock.save(out.lock_file);

  const std::string host = upstream_->host();
  std::vector<std::string> argv = {bundle_program(), "build", "--chart", out.chart_dir.string(), "--lock",
                                   out.lock_file.string(), "--key", (spec.signing_key.empty() ? private_key_ : spec.signing_key).string(), "--output", output.string(),
                                   "--mirror", "docker.io=" + host, "--mirror", "ghcr.io=" + host, "--mirror",
                                   "registry.k8s.io=" + host, "--plain-http", "--cache", (dir_ / "cache").string(), "-q"};
  if (!spec.base.empty()) argv.insert(argv.end(), {"--base", spec.base.string()});
  if (!spec.split_size.empty()) argv.insert(argv.end(), {"--split-size", spec.split_size});
  for (const auto& p : spec.platforms) argv.insert(argv.end(), {"--platform", p});
  if (!spec.include_helm.empty()) argv.insert(argv.end(), {"--include-helm", spec.include_helm.string()});
  if (!spec.helm_version.empty()) argv.insert(argv.end(), {"--helm-version", spec.helm_version});
  // No SBOMs unless a test asks (--sbom ...): syft and the upstream referrer lookups are the SBOM
  // tests' business, not every bundle's.
  if (std::find(spec.build_args.begin(), spec.build_args.end(), "--sbom") == spec.build_args.end())
    argv.insert(argv.end(), {"--sbom", "none"});
  argv.insert(argv.end(), spec.build_args.begin(), spec.build_args.end());
  std::map<std::string, std::string> env = {{"COSIGN_PASSWORD", password_}, {"SOURCE_DATE_EPOCH", "1700000000"}};
  if (upstream_->options().basic_auth) {
    env["SEALIFT_REGISTRY_USER"] = upstream_->options().user;
    env["SEALIFT_REGISTRY_PASSWORD"] = upstream_->options().password;
  }
  RunResult r = run(argv, env);
  if (r.exit_code != 0)
    throw std::runtime_error("sealift-bundle build failed (exit " + std::to_string(r.exit_code) + "): " + r.err);
  out.path = output;
  if (spec.split_size.empty()) {
    out.files = {output};
  } else {
    for (size_t i = 0; fs::exists(bundle::part_path(output, i)); ++i) out.files.push_back(bundle::part_path(output, i));
  }
  return out;
}

void rewrite_bundle(const fs::path& from, const fs::path& to,
                    const std::map<std::string, std::optional<std::string>>& changes) {
  bundle::ArchiveReader reader(from);
  bundle::ArchiveWriter writer(to);
  for (const auto& e : reader.entries()) {
    auto change = changes.find(e.name);
    if (change == changes.end()) {
      auto source = reader.open(e.name);
      writer.add(e.name, e.size, *source);
    } else if (change->second) {
      writer.add_bytes(e.name, *change->second);
    }
  }
  for (const auto& [name, content] : changes)
    if (!reader.find(name) && content) writer.add_bytes(name, *content);
  writer.finish();
}

std::string flip_content_byte(const std::string& bytes, const bundle::ArchiveReader& reader, const std::string& entry,
                              uint64_t at, unsigned char mask) {
  const bundle::TocEntry* e = reader.find(entry);
  if (!e || at >= e->size) throw std::invalid_argument("no byte " + std::to_string(at) + " in entry " + entry);
  const uint64_t tar_offset = e->data_offset + at;
  auto all = std::as_bytes(std::span(bytes));
  bundle::SeekTableFooter footer =
      bundle::parse_seek_table_footer(all.last(bundle::kSeekTableFooterSize), bytes.size());
  std::vector<bundle::SeekEntry> table = bundle::parse_seek_table(all.last(footer.table_size), footer);
  const auto& frames = reader.frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    const bundle::Frame& f = frames[i];
    if (tar_offset < f.offset || tar_offset >= f.offset + f.size) continue;
    std::string plain(f.size, '\0');
    size_t n = ZSTD_decompress(plain.data(), plain.size(), bytes.data() + f.compressed_offset, f.compressed_size);
    if (ZSTD_isError(n) || n != f.size) throw std::runtime_error("cannot decompress frame " + std::to_string(i));
    plain[tar_offset - f.offset] = static_cast<char>(plain[tar_offset - f.offset] ^ mask);
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
    std::string frame(ZSTD_compressBound(plain.size()), '\0');
    size_t c = ZSTD_compress2(cctx.get(), frame.data(), frame.size(), plain.data(), plain.size());
    if (ZSTD_isError(c)) throw std::runtime_error("cannot compress frame " + std::to_string(i));
    frame.resize(c);
    table.at(i).compressed_size = static_cast<uint32_t>(frame.size());
    table.at(i).checksum = bundle::read_le32(reinterpret_cast<const std::byte*>(frame.data() + frame.size() - 4));
    const uint64_t end = f.compressed_offset + f.compressed_size;
    return bytes.substr(0, f.compressed_offset) + frame +
           bytes.substr(end, bytes.size() - footer.table_size - end) + bundle::encode_seek_table(table);
  }
  throw std::logic_error("no frame holds byte " + std::to_string(at) + " of " + entry);
}

void flip_byte_in_entry(const fs::path& from, const fs::path& to, const std::string& entry) {
  uint64_t at = 0;
  {
    bundle::ArchiveReader reader(from);
    const bundle::TocEntry* e = reader.find(entry);
    if (!e) throw std::invalid_argument(from.string() + " has no entry " + entry);
    uint64_t middle = e->data_offset + e->size / 2;
    for (const auto& f : reader.frames())
      if (middle >= f.offset && middle < f.offset + f.size) at = f.compressed_offset + f.compressed_size / 2;
    if (at == 0) throw std::logic_error("no frame holds " + entry);
  }
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  std::fstream file(to, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  file.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  file.seekp(static_cast<std::streamoff>(at));
  file.write(&c, 1);
}

}  // namespace sealift::testenv
