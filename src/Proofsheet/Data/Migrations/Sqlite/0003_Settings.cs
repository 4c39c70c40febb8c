using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// Written by hand like 0001; the SQL is what GenerateCreateScript() produces for AppSetting.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261122000200_Settings")]
public sealed class Settings : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE TABLE "settings" (
            "Key" TEXT NOT NULL CONSTRAINT "PK_settings" PRIMARY KEY,
            "Value" TEXT NOT NULL,
            "UpdatedAt" TEXT NOT NULL
        );
        """);
}
