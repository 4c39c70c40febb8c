using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Postgres;

// The Hub's lists with many tasks: a status filter in id order (the task list's keyset) and the review
// queue's order stop after a page instead of sorting every task of that status (docs/benchmarks.md, Hub lists).
[DbContext(typeof(PostgresAppDbContext))]
[Migration("20261202000300_TaskListIndexes")]
public sealed class TaskListIndexes : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE INDEX "IX_tasks_Status_Id" ON tasks ("Status", "Id");
        CREATE INDEX "IX_tasks_Status_UpdatedAt_Id" ON tasks ("Status", "UpdatedAt", "Id");
        """);
}
