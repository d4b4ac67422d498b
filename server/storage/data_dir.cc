#include "server/storage/data_dir.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace kg {
namespace {

constexpr char kFormatFile[] = "KG_FORMAT";

std::string FormatText(uint32_t partition_count, const std::vector<uint32_t>& partitions) {
  return absl::StrCat("kg-data-dir ", kDataDirFormatVersion, "\npartition_count ", partition_count,
                      "\npartitions ", absl::StrJoin(partitions, ","), "\n");
}

}  // namespace

std::string PartitionStorePath(const std::string& dir, uint32_t partition) {
  return absl::StrFormat("%s/partition-%04d", dir, partition);
}

absl::StatusOr<bool> PrepareDataDir(const std::string& dir, uint32_t partition_count,
                                    const std::vector<uint32_t>& partitions,
                                    absl::string_view name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string want = FormatText(partition_count, partitions);
  fs::path format = fs::path(dir) / kFormatFile;
  if (!fs::exists(format, ec)) {
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
      return absl::FailedPreconditionError(absl::StrCat(
          name, " ", dir, " is not empty and has no ", kFormatFile,
          ": not a kg data directory (or its format file was lost); refusing to use it"));
    }
    fs::create_directories(dir, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
    std::string tmp = format.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << want;
      out.flush();
      if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
    }
    fs::rename(tmp, format, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot write ", format.string()));
    return true;
  }
  std::ifstream in(format);
  std::stringstream text;
  text << in.rdbuf();
  if (text.str() != want) {
    // Quoted escaped and cut short: the file may be anything.
    std::string says = text.str();
    bool printable = says.size() <= 4096 && std::all_of(says.begin(), says.end(), [](char c) {
                       return c == '\n' || (c >= 0x20 && c < 0x7f);
                     });
    if (!printable) says = absl::StrCat("\"", absl::CHexEscape(says.substr(0, 256)), "\"\n");
    return absl::FailedPreconditionError(absl::StrCat(
        name, " ", dir, " was created for a different configuration, or its ", kFormatFile,
        " is damaged; it says:\n", says, "but this server is configured for:\n", want,
        "(partition count and hosted partitions are fixed when a data directory is created; "
        "use the same flags, or restore into a new directory)"));
  }
  for (uint32_t p : partitions) {
    if (!fs::exists(PartitionStorePath(dir, p), ec)) {
      return absl::DataLossError(absl::StrCat(name, " ", dir, ": the store of partition ", p, " (",
                                              PartitionStorePath(dir, p),
                                              ") is missing; refusing to start without it"));
    }
  }
  return false;
}

}  // namespace kg
