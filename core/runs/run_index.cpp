// The run index backed by SQLite (<runs_dir>/runs.sqlite). WAL mode and a busy timeout let
// the CLI and the GUI write at once; every method is one statement or one transaction.
#include "core/runs/run_index.h"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "core/base/error.h"
#include "core/base/file_io.h"

namespace studio {
namespace {

namespace fs = std::filesystem;

constexpr char kDatabaseFile[] = "runs.sqlite";
constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS runs(id TEXT PRIMARY KEY, name TEXT, dataset TEXT, method TEXT, status TEXT, "
    "started_at TEXT, ended_at TEXT, best_knn REAL, path TEXT)";
constexpr char kUpsert[] =
    "INSERT INTO runs(id, name, dataset, method, status, started_at, ended_at, best_knn, path) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT(id) DO UPDATE SET name = excluded.name, dataset = excluded.dataset, method = excluded.method, "
    "status = excluded.status, started_at = excluded.started_at, ended_at = excluded.ended_at, "
    "best_knn = excluded.best_knn, path = excluded.path";
constexpr char kSelectColumns[] = "SELECT id, name, dataset, method, status, started_at, ended_at, best_knn, path FROM runs";

// A bad file is the user's to fix (BadInput); anything else is the engine failing.
[[noreturn]] void throwSqlite(sqlite3* db, int rc, const std::string& dbPath, const std::string& what) {
  const std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      throwBadInput(dbPath + ": not an SQLite database (" + message + ")");
    case SQLITE_CORRUPT:
      throwBadInput(dbPath + ": the SQLite database is corrupt (" + message +
                    "); delete it and rebuild the index from the run folders");
    default:
      throwFailure(dbPath + ": " + what + " failed (" + message + ")");
  }
}

class Statement {
 public:
  Statement(sqlite3* db, const char* sql, const std::string& dbPath) : db_(db), dbPath_(dbPath) {
    const int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) throwSqlite(db_, rc, dbPath_, std::string("preparing \"") + sql + "\"");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int index, const std::string& text) {
    check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
  }
  // Negative kNN means "none yet", stored as NULL so queries can tell.
  void bindKnn(int index, double knn) {
    check(knn >= 0.0 ? sqlite3_bind_double(stmt_, index, knn) : sqlite3_bind_null(stmt_, index));
  }
  void bindRecord(const RunRecord& r) {
    bind(1, r.id);
    bind(2, r.name);
    bind(3, r.dataset);
    bind(4, r.method);
    bind(5, r.status);
    bind(6, r.started_at);
    bind(7, r.ended_at);
    bindKnn(8, r.best_knn);
    bind(9, r.path);
  }

  // True while there is a row to read.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throwSqlite(db_, rc, dbPath_, std::string("\"") + sqlite3_sql(stmt_) + "\"");
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string();
  }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double knn(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL ? -1.0 : sqlite3_column_double(stmt_, column);
  }
  RunRecord record() const {
    RunRecord r;
    r.id = text(0);
    r.name = text(1);
    r.dataset = text(2);
    r.method = text(3);
    r.status = text(4);
    r.started_at = text(5);
    r.ended_at = text(6);
    r.best_knn = knn(7);
    r.path = text(8);
    return r;
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throwSqlite(db_, rc, dbPath_, "binding a parameter");
  }

  sqlite3* db_;
  std::string dbPath_;
  sqlite3_stmt* stmt_ = nullptr;
};

void requireId(const std::string& id, const std::string& dbPath) {
  if (id.empty()) throwBadInput(dbPath + ": a run record needs a non-empty id");
}

}  // namespace

struct RunIndex::Impl {
  sqlite3* db = nullptr;
  std::string dbPath;
  // One connection serves every thread of this process; the mutex keeps each method's
  // statements (and transactions) from interleaving with another thread's.
  std::mutex mutex;

  ~Impl() { sqlite3_close_v2(db); }

  void exec(const std::string& sql) {
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) throwSqlite(db, rc, dbPath, "\"" + sql + "\"");
  }

  // IMMEDIATE takes the write lock up front, so the busy timeout applies; a deferred
  // transaction upgrading in WAL mode would fail at once with SQLITE_BUSY instead.
  class Transaction {
   public:
    explicit Transaction(Impl& impl) : impl_(impl) { impl_.exec("BEGIN IMMEDIATE"); }
    ~Transaction() {
      if (!committed_) sqlite3_exec(impl_.db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit() {
      impl_.exec("COMMIT");
      committed_ = true;
    }

   private:
    Impl& impl_;
    bool committed_ = false;
  };
};

RunIndex::RunIndex(const std::string& runs_dir) : runs_dir_(runs_dir), impl_(nullptr) {
  createRunsFolder(runs_dir);

  auto impl = std::make_unique<Impl>();
  impl->dbPath = (fs::path(runs_dir) / kDatabaseFile).string();
  const int rc = sqlite3_open_v2(impl->dbPath.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) throwSqlite(impl->db, rc, impl->dbPath, "opening the run index");
  // Before anything that locks, so a second process waits rather than failing.
  sqlite3_busy_timeout(impl->db, kBusyTimeoutMs);

  // The first read of the file happens here, so a non-database is refused here too. Where
  // WAL is unavailable (some network filesystems) SQLite keeps its rollback journal, which
  // is still correct across processes, only less concurrent.
  {
    Statement walMode(impl->db, "PRAGMA journal_mode=WAL", impl->dbPath);
    while (walMode.step()) {
    }
  }

  int64_t version = 0;
  {
    Statement userVersion(impl->db, "PRAGMA user_version", impl->dbPath);
    if (userVersion.step()) version = userVersion.integer(0);
  }
  if (version > kSchemaVersion)
    throwBadInput(impl->dbPath + ": run index schema version " + std::to_string(version) +
                  " is newer than this build supports (" + std::to_string(kSchemaVersion) +
                  "); use a newer Contrastive Studio or delete the file to rebuild it from the run folders");
  if (version < kSchemaVersion) {
    Impl::Transaction transaction(*impl);
    impl->exec(kCreateTable);
    impl->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    transaction.commit();
  }
  impl_ = impl.release();
}

RunIndex::~RunIndex() { delete impl_; }

void RunIndex::upsert(const RunRecord& record) {
  requireId(record.id, impl_->dbPath);
  std::lock_guard<std::mutex> lock(impl_->mutex);
  Statement upsert(impl_->db, kUpsert, impl_->dbPath);
  upsert.bindRecord(record);
  upsert.step();
}

std::optional<RunRecord> RunIndex::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  Statement select(impl_->db, (std::string(kSelectColumns) + " WHERE id = ?1").c_str(), impl_->dbPath);
  select.bind(1, id);
  if (!select.step()) return std::nullopt;
  return select.record();
}

std::vector<RunRecord> RunIndex::list() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  Statement select(impl_->db, (std::string(kSelectColumns) + " ORDER BY started_at DESC, id DESC").c_str(),
                   impl_->dbPath);
  std::vector<RunRecord> records;
  while (select.step()) records.push_back(select.record());
  return records;
}

void RunIndex::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  Statement del(impl_->db, "DELETE FROM runs WHERE id = ?1", impl_->dbPath);
  del.bind(1, id);
  del.step();
}

int RunIndex::rebuildFromFolders() {
  // Read the folders before taking the write lock, so other writers wait only for the
  // database work.
  std::map<std::string, std::string> idByPath;
  std::vector<RunRecord> found;
  std::error_code ec;
  for (fs::directory_iterator it(runs_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entryEc;
    if (!it->is_directory(entryEc) || !fs::is_regular_file(it->path() / "run.json", entryEc)) continue;
    try {
      RunRecord record = readRunRecord(it->path().string());
      idByPath[record.path] = record.id;
      found.push_back(std::move(record));
    } catch (const Error&) {
      // A malformed run.json is not a run the index can describe; its row goes below.
    }
  }
  if (ec) throwFailure(runs_dir_ + ": cannot list the runs folder (" + ec.message() + ")");

  std::lock_guard<std::mutex> lock(impl_->mutex);
  Impl::Transaction transaction(*impl_);
  Statement upsert(impl_->db, kUpsert, impl_->dbPath);
  for (const auto& record : found) {
    upsert.bindRecord(record);
    upsert.step();
    upsert.reset();
  }

  // Keep a row only while its folder still holds a readable run.json for that id. Rows
  // pointing outside runs_dir are checked at their own path.
  std::vector<std::pair<std::string, std::string>> rows;
  {
    Statement select(impl_->db, "SELECT id, path FROM runs", impl_->dbPath);
    while (select.step()) rows.emplace_back(select.text(0), select.text(1));
  }
  Statement del(impl_->db, "DELETE FROM runs WHERE id = ?1", impl_->dbPath);
  for (const auto& [id, path] : rows) {
    bool keep = false;
    if (!path.empty()) {
      const auto scanned = idByPath.find(absoluteFolder(path));
      if (scanned != idByPath.end()) {
        keep = scanned->second == id;
      } else {
        try {
          RunRecord record = readRunRecord(path);
          keep = record.id == id;
          if (keep) {
            upsert.bindRecord(record);
            upsert.step();
            upsert.reset();
          }
        } catch (const Error&) {
          keep = false;
        }
      }
    }
    if (!keep) {
      del.bind(1, id);
      del.step();
      del.reset();
    }
  }

  int64_t count = 0;
  {
    Statement countRows(impl_->db, "SELECT COUNT(*) FROM runs", impl_->dbPath);
    if (countRows.step()) count = countRows.integer(0);
  }
  transaction.commit();
  return static_cast<int>(count);
}

}  // namespace studio
