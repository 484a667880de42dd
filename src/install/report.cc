#include "install/report.h"

#include <ctime>
#include <map>
#include <set>
#include <span>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "install/kubectl.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"

namespace sealift::install {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

void PhaseClock::start(std::string phase) {
  stop();
  phases_.push_back({std::move(phase), 0});
  since_ = std::chrono::steady_clock::now();
}

void PhaseClock::stop() {
  if (!since_) return;
  phases_.back().seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - *since_).count();
  since_.reset();
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void check_report_path(const fs::path& path) {
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw Error(ErrorKind::Usage, fmt::format("cannot write the report to {}: the directory {} does not exist", path.string(), dir.string()),
                "create the directory first, or give a path in an existing one");
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::Usage, fmt::format("cannot write the report to {}: {} is not a directory", path.string(), dir.string()));
  if (fs::is_directory(path, ec))
    throw Error(ErrorKind::Usage, fmt::format("cannot write the report to {}: it is a directory", path.string()),
                "name a file, e.g. report.json");
}

fs::path html_path_for(const fs::path& json_path) {
  fs::path html = json_path;
  return html.replace_extension(".html");
}

namespace {

json signatures_json(const std::vector<CheckedSignature>& list) {
  json out = json::array();
  for (const auto& s : list) out.push_back({{"form", s.form}, {"signer", s.signer}, {"keyFingerprint", s.fingerprint}});
  return out;
}

const PushedObject* pushed(const InstallReport& r, bool chart, const std::string& source) {
  if (!r.push) return nullptr;
  for (const auto& o : r.push->objects)
    if (o.chart == chart && (chart || o.source == source)) return &o;
  return nullptr;
}

std::string pull_secret_text(const InstallReport& r) {
  if (r.pull_secret_source == "robot") return fmt::format("pull robot {} (--create-pull-robot)", r.pull_secret_user);
  if (r.pull_secret_source == "pull-username") return fmt::format("{} (--pull-username)", r.pull_secret_user);
  if (r.pull_secret_source == "push-credentials")
    return fmt::format("the push credentials of {} (--pull-secret-from-push-credentials)", r.pull_secret_user);
  return "none";
}

json pushed_json(const PushedObject* o) {
  if (!o) return nullptr;
  return {{"blobsUploaded", o->blobs_uploaded}, {"blobsMounted", o->blobs_mounted},
          {"blobsAlreadyThere", o->blobs_skipped}, {"bytesUploaded", o->bytes_uploaded},
          {"tagWritten", o->tag_written},       {"siteSignaturesAdded", o->site_signatures_added}};
}

std::string chart_source(const InstallReport& r) { return r.bundle->root.chart.reference; }

}  // namespace

json report_json(const InstallReport& r) {
  const VerifiedBundle& b = *r.bundle;
  const Relocation& rel = *r.relocation;
  json j;
  j["command"] = r.command;
  j["started"] = r.started;
  j["finished"] = r.finished;
  j["bundle"] = {{"name", b.root.name},
                 {"version", b.root.version},
                 {"created", b.root.created},
                 {"tool", b.root.tool},
                 {"signatureVerified", b.signature_verified},
                 {"signer", b.signer},
                 {"upstreamSignatures", b.upstream_signatures},
                 {"upstreamSignaturesVerified", b.upstream_signatures_verified},
                 {"sboms", b.sboms},
                 {"sbomsVerified", b.sboms_verified},
                 {"upstreamAttestations", b.upstream_attestations},
                 {"upstreamAttestationsVerified", b.upstream_attestations_verified},
                 {"warnings", b.warnings}};
  j["keys"] = {{"vendor", r.vendor_keys},
               {"upstream", r.upstream_keys},
               {"site", r.site_key.empty() ? json(nullptr) : json(r.site_key)}};
  j["registry"] = {{"host", rel.registry}, {"project", rel.project}};
  j["pullSecret"] = {{"source", r.pull_secret_source},
                     {"username", r.pull_secret_user.empty() ? json(nullptr) : json(r.pull_secret_user)}};
  const PushedObject* chart = pushed(r, true, {});
  j["chart"] = {{"name", b.root.chart.name},
                {"version", b.root.chart.version},
                {"source", chart_source(r)},
                {"digest", rel.chart.digest.str()},
                {"target", rel.registry + "/" + rel.chart.repository + "@" + rel.chart.digest.str()},
                {"tag", rel.registry + "/" + rel.chart.repository + ":" + rel.chart.tag},
                {"pushed", pushed_json(chart)},
                {"signatures", signatures_json(chart ? chart->signatures : std::vector<CheckedSignature>{})}};
  j["images"] = json::array();
  for (const auto& image : rel.images) {
    const PushedObject* o = pushed(r, false, image.source);
    // Its SBOMs and the publisher's attestations, by referrer digest (each a referrer of the
    // target image: `cosign verify-attestation` reads them there).
    json sboms = json::array(), attestations = json::array();
    for (const auto& ri : b.root.images)
      if (ri.source == image.source) {
        for (const auto& d : ri.sboms) sboms.push_back(d.str());
        for (const auto& d : ri.upstream_attestations) attestations.push_back(d.str());
      }
    j["images"].push_back({{"source", image.source},
                           {"digest", image.digest.str()},
                           {"target", image.pinned(rel.registry)},
                           {"tag", rel.registry + "/" + image.repository + ":" + image.tag},
                           {"pushed", pushed_json(o)},
                           {"signatures", signatures_json(o ? o->signatures : std::vector<CheckedSignature>{})},
                           {"sboms", sboms},
                           {"upstreamAttestations", attestations}});
  }
  if (r.push) {
    const PushReport& p = *r.push;
    j["push"] = {{"blobsUploaded", p.blobs_uploaded},     {"blobsMounted", p.blobs_mounted},
                 {"blobsAlreadyThere", p.blobs_skipped},  {"bytesUploaded", p.bytes_uploaded},
                 {"manifestsPushed", p.manifests_pushed}, {"tagsWritten", p.tags_written},
                 {"tagsUnchanged", p.tags_unchanged},     {"signaturesMerged", p.signatures_merged},
                 {"signaturesVerified", p.signatures_verified}, {"referrersPushed", p.referrers_pushed},
                 {"referrersVerified", p.referrers_verified},   {"siteSignaturesAdded", p.site_signatures_added},
                 {"siteSignaturesVerified", p.site_signatures_verified}};
  } else {
    j["push"] = nullptr;
  }
  j["release"] = {{"name", r.release}, {"namespace", r.namespace_name}, {"revision", r.revision}, {"status", r.release_status}};
  j["phases"] = json::array();
  for (const auto& p : r.phases) j["phases"].push_back({{"phase", p.phase}, {"seconds", p.seconds}});
  j["workloads"] = json::array();
  for (const auto& w : r.workloads) j["workloads"].push_back(workload_json(w));
  return j;
}

json workload_json(const WorkloadImage& w) {
  return {{"namespace", w.namespace_name},
          {"workload", w.workload},
          {"pod", w.pod},
          {"container", w.container},
          {"image", w.image},
          {"imageID", w.image_id},
          {"waiting", w.waiting.empty() ? json(nullptr) : json(w.waiting)}};
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

std::string cell(std::string_view text) { return "<td>" + html_escape(text) + "</td>"; }
std::string code_cell(std::string_view text) { return "<td><code>" + html_escape(text) + "</code></td>"; }

std::string signatures_cell(const std::vector<CheckedSignature>& list) {
  if (list.empty()) return "<td class=\"none\">not read back (no push)</td>";
  std::string out = "<td><ul>";
  for (const auto& s : list)
    out += fmt::format("<li>{} by the {} key <code>{}</code></li>", html_escape(s.form), html_escape(s.signer),
                       html_escape(s.fingerprint));
  return out + "</ul></td>";
}

std::string pushed_cell(const PushedObject* o) {
  if (!o) return "<td class=\"none\">not pushed (--skip-push)</td>";
  return fmt::format("<td>{} uploaded ({} bytes), {} mounted, {} already there; tag {}{}</td>", o->blobs_uploaded,
                     o->bytes_uploaded, o->blobs_mounted, o->blobs_skipped,
                     o->tag_written ? "written" : "already at the digest",
                     o->site_signatures_added ? fmt::format("; {} site signatures added", o->site_signatures_added) : "");
}

std::string row(std::string_view cls, const std::vector<std::string>& cells) {
  std::string out = fmt::format("<tr class=\"{}\">", cls);
  for (const auto& c : cells) out += c;
  return out + "</tr>\n";
}

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,sans-serif;margin:2em;color:#111}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#eee}code{font-size:.9em;word-break:break-all}
ul{margin:0;padding-left:1.2em}.none{color:#777}dt{font-weight:bold}dd{margin:0 0 .5em 1em}
)";

}  // namespace

std::string report_html(const InstallReport& r) {
  const VerifiedBundle& b = *r.bundle;
  const Relocation& rel = *r.relocation;
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  // No script, no external asset: the page cannot fetch or run anything.
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">";
  h += fmt::format("<title>sealift {} report: {} {}</title><style>{}</style></head><body>\n", html_escape(r.command),
                   html_escape(b.root.name), html_escape(b.root.version), kStyle);
  h += fmt::format("<h1>sealift {} of {} {}</h1>\n", html_escape(r.command), html_escape(b.root.name),
                   html_escape(b.root.version));
  h += "<dl>";
  auto item = [&](std::string_view term, std::string_view value) {
    h += fmt::format("<dt>{}</dt><dd>{}</dd>", html_escape(term), html_escape(value));
  };
  item("Started", r.started);
  item("Finished", r.finished);
  item("Bundle", fmt::format("{} {} (created {} by {})", b.root.name, b.root.version, b.root.created, b.root.tool));
  item("Bundle signature", b.signature_verified ? fmt::format("verified; signed by the key {}", b.signer)
                                                : std::string("NOT verified (--insecure-skip-signature)"));
  for (const auto& w : b.warnings) item("Warning", w);
  std::string vendor, upstream;
  for (const auto& k : r.vendor_keys) vendor += (vendor.empty() ? "" : ", ") + k;
  for (const auto& k : r.upstream_keys) upstream += (upstream.empty() ? "" : ", ") + k;
  item("Vendor keys (--key)", vendor.empty() ? "none" : vendor);
  if (!r.upstream_keys.empty())
    item("Upstream keys (--upstream-key)",
         fmt::format("{}; {} of {} upstream signatures verified", upstream, b.upstream_signatures_verified,
                     b.upstream_signatures));
  item("SBOMs", b.sboms ? fmt::format("{} (SPDX, one per platform image), {} verified with the vendor's key; pushed as "
                                      "referrers of their images",
                                      b.sboms, b.sboms_verified)
                        : std::string("none in this bundle"));
  if (b.upstream_attestations)
    item("Upstream attestations", fmt::format("{} carried from the images' publishers, {} verified with --upstream-key",
                                              b.upstream_attestations, b.upstream_attestations_verified));
  item("Site key (--resign-key)", r.site_key.empty() ? "none: images not re-signed" : r.site_key);
  item("Registry", fmt::format("{} (project {})", rel.registry, rel.project));
  item("Pull secret", pull_secret_text(r));
  item("Helm release", fmt::format("{} in namespace {}: revision {}, {}", r.release, r.namespace_name, r.revision,
                                   r.release_status));
  h += "</dl>\n";

  h += "<h2>Chart</h2>\n<table><tr><th>Name</th><th>Version</th><th>Digest</th><th>Target</th><th>Pushed</th>"
       "<th>Signatures checked in the target</th></tr>\n";
  const PushedObject* chart = pushed(r, true, {});
  h += row("chart", {cell(b.root.chart.name), cell(b.root.chart.version), code_cell(rel.chart.digest.str()),
                     code_cell(rel.registry + "/" + rel.chart.repository + ":" + rel.chart.tag), pushed_cell(chart),
                     signatures_cell(chart ? chart->signatures : std::vector<CheckedSignature>{})});
  h += "</table>\n";

  h += fmt::format("<h2>Images ({})</h2>\n", rel.images.size());
  h += "<table id=\"images\"><tr><th>Source</th><th>Digest</th><th>Target</th><th>Pushed</th>"
       "<th>Signatures checked in the target</th></tr>\n";
  for (const auto& image : rel.images) {
    const PushedObject* o = pushed(r, false, image.source);
    h += row("image", {code_cell(image.source), code_cell(image.digest.str()), code_cell(image.pinned(rel.registry)),
                       pushed_cell(o), signatures_cell(o ? o->signatures : std::vector<CheckedSignature>{})});
  }
  h += "</table>\n";

  if (r.push) {
    const PushReport& p = *r.push;
    h += fmt::format(
        "<h2>Push</h2>\n<p>{} blobs uploaded ({} bytes), {} mounted, {} already there; {} manifests pushed; tags: {} "
        "written, {} unchanged; {} signature manifests merged; {} site signatures added, {} verified.</p>\n",
        p.blobs_uploaded, p.bytes_uploaded, p.blobs_mounted, p.blobs_skipped, p.manifests_pushed, p.tags_written,
        p.tags_unchanged, p.signatures_merged, p.site_signatures_added, p.site_signatures_verified);
  }

  h += "<h2>Timings</h2>\n<table><tr><th>Phase</th><th>Seconds</th></tr>\n";
  for (const auto& p : r.phases) h += row("phase", {cell(p.phase), cell(fmt::format("{:.2f}", p.seconds))});
  h += "</table>\n";

  h += fmt::format("<h2>Workloads' images as the cluster reports them ({})</h2>\n", r.workloads.size());
  h += "<table id=\"workloads\"><tr><th>Namespace</th><th>Workload</th><th>Pod</th><th>Container</th><th>Image</th>"
       "<th>Image ID</th><th>Waiting</th></tr>\n";
  for (const auto& w : r.workloads)
    h += row("workload", {cell(w.namespace_name), cell(w.workload), cell(w.pod), cell(w.container), code_cell(w.image),
                          code_cell(w.image_id), cell(w.waiting)});
  h += "</table>\n</body></html>\n";
  return h;
}

void write_report(const InstallReport& report, const fs::path& json_path, const fs::path& html_path) {
  // Both written in full before either is renamed into place: no report without its page.
  const std::string json_text = report_json(report).dump(2) + "\n", html_text = report_html(report);
  util::AtomicFile json_file(json_path), html_file(html_path);
  json_file.write(std::as_bytes(std::span(json_text.data(), json_text.size())));
  html_file.write(std::as_bytes(std::span(html_text.data(), html_text.size())));
  json_file.commit();
  html_file.commit();
}

namespace {

const std::set<std::string>& workload_kinds() {
  static const std::set<std::string> kinds = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"};
  return kinds;
}

std::string str(const json& j, const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; }

}  // namespace

std::vector<WorkloadImage> cluster_images(const helm::Helm& helm, const fs::path& kubectl, const std::string& release,
                                          const std::string& namespace_name, const std::string& kubeconfig,
                                          const std::string& kube_context) {
  // The release's workloads, by namespace: "Kind/name".
  std::map<std::string, std::set<std::string>> workloads;
  util::ProcessResult manifest = helm.run({"get", "manifest", release, "--namespace", namespace_name});
  for (const YAML::Node& doc : YAML::LoadAll(manifest.out)) {
    if (!doc.IsMap() || !doc["kind"] || !doc["metadata"] || !doc["metadata"]["name"]) continue;
    const std::string kind = doc["kind"].as<std::string>();
    if (!workload_kinds().count(kind)) continue;
    std::string ns = doc["metadata"]["namespace"] ? doc["metadata"]["namespace"].as<std::string>() : namespace_name;
    workloads[ns].insert(kind + "/" + doc["metadata"]["name"].as<std::string>());
  }
  std::vector<WorkloadImage> out;
  for (const auto& [ns, names] : workloads) {
    json list = Kubectl{kubectl, kubeconfig, kube_context}.get_json({"get", "pods,replicasets,jobs", "--namespace", ns});
    // Owner of each ReplicaSet and Job ("Kind/name" -> "Kind/name"): a pod's chain ends at the
    // release's object (Deployment, CronJob) or at the pod itself.
    std::map<std::string, std::string> owner;
    auto owner_of = [](const json& item) -> std::string {
      if (!item["metadata"].contains("ownerReferences")) return "";
      for (const auto& o : item["metadata"]["ownerReferences"])
        if (o.value("controller", false)) return str(o, "kind") + "/" + str(o, "name");
      return "";
    };
    for (const auto& item : list["items"]) {
      std::string kind = str(item, "kind");
      if (kind != "Pod") owner[kind + "/" + str(item["metadata"], "name")] = owner_of(item);
    }
    for (const auto& pod : list["items"]) {
      if (str(pod, "kind") != "Pod") continue;
      std::string chain = "Pod/" + str(pod["metadata"], "name");
      for (int depth = 0; depth < 4 && !names.count(chain); ++depth) {
        std::string next = chain.starts_with("Pod/") ? owner_of(pod) : (owner.count(chain) ? owner[chain] : "");
        if (next.empty()) break;
        chain = next;
      }
      if (!names.count(chain)) continue;
      std::map<std::string, std::string> ids, waiting;
      for (const char* statuses : {"initContainerStatuses", "containerStatuses"})
        if (pod.contains("status") && pod["status"].contains(statuses))
          for (const auto& s : pod["status"][statuses]) {
            ids[str(s, "name")] = str(s, "imageID");
            if (s.contains("state") && s["state"].contains("waiting")) {
              const json& w = s["state"]["waiting"];
              waiting[str(s, "name")] = str(w, "reason") + (str(w, "message").empty() ? "" : ": " + str(w, "message"));
            }
          }
      for (const char* containers : {"initContainers", "containers"})
        if (pod["spec"].contains(containers))
          for (const auto& c : pod["spec"][containers]) {
            std::string name = str(c, "name");
            out.push_back({ns, chain, str(pod["metadata"], "name"),
                           std::string(containers) == "initContainers" ? "(init) " + name : name, str(c, "image"),
                           ids.count(name) ? ids[name] : "", waiting.count(name) ? waiting[name] : ""});
          }
    }
  }
  return out;
}

}  // namespace sealift::install
