using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// Feedback a model writer turns into the next round's image prompt, and the settings "more like this"
// draws its pending images with: both kept on the task so that whichever node runs the round uses them.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261202000501_RoundSettings")]
public sealed class RoundSettings : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        ALTER TABLE "tasks" ADD "PromptFeedback" TEXT NULL;
        ALTER TABLE "tasks" ADD "PendingSettings" TEXT NULL;
        """);
}
