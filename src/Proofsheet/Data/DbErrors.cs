using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Proofsheet.Data;

/// <summary>Provider quirks in one place: how each database says "that unique key exists".</summary>
public static class DbErrors
{
    public static bool IsUniqueViolation(DbUpdateException ex) => ex.InnerException switch
    {
        PostgresException pg => pg.SqlState == PostgresErrorCodes.UniqueViolation,
        // SQLITE_CONSTRAINT_UNIQUE / SQLITE_CONSTRAINT_PRIMARYKEY
        SqliteException lite => lite.SqliteErrorCode == 19 && lite.SqliteExtendedErrorCode is 2067 or 1555,
        _ => false,
    };
}
