using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Postgres;

// Written by hand like 0001; the SQL is what GenerateCreateScript() produces for AppSetting.
[DbContext(typeof(PostgresAppDbContext))]
[Migration("20261122000200_Settings")]
public sealed class Settings : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE TABLE settings (
            "Key" text NOT NULL,
            "Value" text NOT NULL,
            "UpdatedAt" timestamp with time zone NOT NULL,
            CONSTRAINT "PK_settings" PRIMARY KEY ("Key")
        );
        """);
}
