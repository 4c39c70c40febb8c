using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// Scheduled publishing (issue 12): an approved task may wait, image uploaded, for the time its post
// goes live. Null for every task before: they were published at once.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261202000200_ScheduledPublishing")]
public sealed class ScheduledPublishing : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        ALTER TABLE "tasks" ADD "PublishAt" TEXT NULL;
        """);
}
