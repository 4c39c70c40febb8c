using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MimeKit;
using Proofsheet.Data;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.IntegrationTests.Writing;
using Proofsheet.People;

namespace Proofsheet.IntegrationTests.Team;

/// <summary>Email notifications through a real SMTP server (npm smtp-server) the test starts.</summary>
public sealed class EmailTests
{
    private const string AdminPassword = "the first admin's password";
    private const string BaseUrl = "https://proofsheet.example";

    private static Dictionary<string, string?> Settings(SmtpCapture smtp, OpenAIStandIn? writer = null)
    {
        var settings = smtp.Settings();
        settings["Auth:AdminPassword"] = AdminPassword;
        settings["Auth:AdminEmail"] = "ada@example.com";
        settings["Auth:AdminName"] = "Ada Admin";
        settings["Publishing:PublicBaseUrl"] = BaseUrl;
        settings["Email:RetryBaseDelay"] = "00:00:00.100";
        settings["Email:RetryMaxDelay"] = "00:00:00.200";
        settings["Email:PollInterval"] = "00:00:00.200";
        if (writer is not null)
        {
            settings["Content:Provider"] = "openai";
            settings["Content:OpenAI:BaseUrl"] = writer.BaseUrl;
            settings["Content:OpenAI:ApiKey"] = "sk-test-4f9c2a7e1b3d";
            settings["Content:OpenAI:Model"] = "gpt-4o-mini";
            settings["Content:OpenAI:MaxRetries"] = "0";
            settings["Pipeline:MaxAttempts"] = "1";
        }
        return settings;
    }

    private static string Text(MimeMessage m) => (m.TextBody ?? "").ReplaceLineEndings("\n");

    /// <summary>Reads messages until one for each address has come; fails on one for anybody else.</summary>
    private static async Task<Dictionary<string, MimeMessage>> ReceiveAsync(SmtpCapture smtp, params string[] to)
    {
        var got = new Dictionary<string, MimeMessage>();
        while (got.Count < to.Length)
        {
            var message = await smtp.NextAsync();
            var address = Assert.Single(message.To.Mailboxes).Address;
            Assert.Contains(address, to);
            Assert.True(got.TryAdd(address, message), $"{address} got two messages: {message.Subject}");
        }
        return got;
    }

    [Fact]
    public async Task The_right_people_get_the_right_messages_with_a_working_link()
    {
        await using var smtp = await SmtpCapture.StartAsync();
        await using var writer = await OpenAIStandIn.StartAsync();
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), Settings(smtp, writer));
        using var admin = await Infrastructure.Team.AdminAsync(app, AdminPassword);
        using var editor = await Infrastructure.Team.JoinAsync(app, "Edith Editor", "edith@example.com", Roles.Editor);
        using var quiet = await Infrastructure.Team.JoinAsync(app, "Quentin Quiet", "quentin@example.com", Roles.Editor);
        using var reviewer = await Infrastructure.Team.JoinAsync(app, "Rita Reviewer", "rita@example.com", Roles.Reviewer);
        // Quentin turns email off on his account page.
        var off = await Infrastructure.Team.PostFormAsync(quiet.Hub, "/hub/account", "/hub/account/notifications", []);
        Assert.Equal("/hub/account?done=notifications", off.Headers.Location?.OriginalString);

        // Edith asks for a post; nobody is assigned, so the editors and admins who want email hear it is ready.
        var id = (await (await editor.Api.PostAsJsonAsync("/api/tasks", new { topic = "Write about Mail Day", num_variations = 1 }))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        var ready = await ReceiveAsync(smtp, "ada@example.com", "edith@example.com");
        var title = (await app.GetTaskAsync(id)).GetProperty("title").GetString()!;
        foreach (var message in ready.Values)
        {
            Assert.Equal($"Ready for review: {title}", message.Subject);
            Assert.Equal("proofsheet@example.com", Assert.Single(message.From.Mailboxes).Address);
            Assert.Contains($"{BaseUrl}/hub/tasks/{id}", Text(message), StringComparison.Ordinal);
        }
        Assert.StartsWith("Hello Edith Editor,", Text(ready["edith@example.com"]), StringComparison.Ordinal);
        // The link works: it opens the task for the person it was sent to.
        var link = new Uri(System.Text.RegularExpressions.Regex.Match(Text(ready["edith@example.com"]), @"https://\S+/hub/tasks/\S+").Value);
        var page = await editor.Hub.GetAsync(link.AbsolutePath);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains(WebUtility.HtmlEncode(title), await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Assigned to Rita: she hears of it; she approves; Edith, who asked for it, hears it is published.
        await admin.Api.PostAsJsonAsync($"/api/tasks/{id}/assign", new { person_id = reviewer.Person.Id });
        var assigned = Assert.Single(await ReceiveAsync(smtp, "rita@example.com")).Value;
        Assert.Equal($"Assigned to you: {title}", assigned.Subject);
        Assert.Contains($"{BaseUrl}/hub/tasks/{id}", Text(assigned), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await reviewer.Api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })).StatusCode);
        await app.WaitForStatusAsync(id, "published");
        var published = Assert.Single(await ReceiveAsync(smtp, "edith@example.com")).Value;
        Assert.Equal($"Published: {title}", published.Subject);
        Assert.Contains($"{BaseUrl}/posts/", Text(published), StringComparison.Ordinal);

        // A task assigned before it is ready and then failing: only the assignee hears of it.
        // The writer holds its answer until the assignment is saved, so the task fails only after it.
        var assignedFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var refuse = OpenAIStandIn.Error(400, "This model does not exist.", "invalid_request_error");
        writer.Default = async (context, request) =>
        {
            await assignedFirst.Task;
            await refuse(context, request);
        };
        var second = (await (await editor.Api.PostAsJsonAsync("/api/tasks", new { topic = "Write about Broken Days", num_variations = 1 }))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await admin.Api.PostAsJsonAsync($"/api/tasks/{second}/assign", new { person_id = reviewer.Person.Id })).StatusCode);
        assignedFirst.SetResult();
        await app.WaitForStatusAsync(second, "failed");
        var failed = Assert.Single(await ReceiveAsync(smtp, "rita@example.com")).Value;
        Assert.Equal("Failed: Write about Broken Days", failed.Subject);
        Assert.Contains($"{BaseUrl}/hub/tasks/{second}", Text(failed), StringComparison.Ordinal);

        // The outbox holds exactly these messages, all sent: Quentin (email off) and the unassigned reviewer were never written to.
        // The last one is marked sent once the server's answer to it is back, a moment after the server has it.
        var dbs = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>();
        await TestApp.WaitUntilAsync(async () =>
        {
            await using var db = await dbs.CreateDbContextAsync();
            return !await db.EmailOutbox.AnyAsync(m => m.SentAt == null);
        });
        await using var db = await dbs.CreateDbContextAsync();
        var outbox = await db.EmailOutbox.OrderBy(m => m.Id).Select(m => new { m.Kind, m.To, m.SentAt }).ToListAsync();
        Assert.Equal(
            new[] { "assigned rita@example.com", "awaiting_approval ada@example.com", "awaiting_approval edith@example.com", "failed rita@example.com", "published edith@example.com" },
            outbox.Select(m => $"{m.Kind} {m.To}").Order(StringComparer.Ordinal).ToArray());
        Assert.All(outbox, m => Assert.NotNull(m.SentAt));
        Assert.Empty(smtp.Pending());
    }

    [Fact]
    public async Task A_refusing_mail_server_is_retried_and_finally_logged_while_the_workflow_goes_on()
    {
        await using var smtp = await SmtpCapture.StartAsync(failAll: true);
        var logs = new CapturingLoggerProvider();
        var settings = Settings(smtp);
        settings["Email:MaxAttempts"] = "3";
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), settings, services => services.AddSingleton<ILoggerProvider>(logs));
        using var admin = await Infrastructure.Team.AdminAsync(app, AdminPassword);

        // The workflow does not wait for mail: the task becomes ready and is published while every message is refused.
        var id = (await (await admin.Api.PostAsJsonAsync("/api/tasks", new { topic = "Write about Lost Letters", num_variations = 1 }))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        Assert.Equal(HttpStatusCode.OK, (await admin.Api.PostAsJsonAsync($"/api/tasks/{id}/approve", new { index = 1 })).StatusCode);
        await app.WaitForStatusAsync(id, "published");

        // Each message was tried three times (the server saw each attempt), then given up and logged.
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(["ada@example.com"], await smtp.NextRefusedAsync());
        }
        // Given up is written to the outbox, then logged: wait for both.
        await TestApp.WaitUntilAsync(async () =>
        {
            await using var db = await app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
            return await db.EmailOutbox.CountAsync(m => m.NextAttemptAt == null) == 2
                && logs.Lines.Count(l => l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("given up after 3 attempts", StringComparison.Ordinal)) == 2;
        });
        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
        {
            var rows = await db.EmailOutbox.ToListAsync();
            Assert.Equal(["awaiting_approval", "published"], rows.Select(r => r.Kind).Order(StringComparer.Ordinal));
            Assert.All(rows, r => Assert.Equal((3, (DateTime?)null), (r.Attempts, r.SentAt)));
            Assert.All(rows, r => Assert.Contains("try again later", r.LastError, StringComparison.Ordinal));
        }
        Assert.Equal(2, logs.Lines.Count(l => l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("given up after 3 attempts", StringComparison.Ordinal)));
        Assert.Empty(smtp.Pending());
    }

    [Fact]
    public async Task A_message_refused_once_is_sent_on_the_next_attempt()
    {
        await using var smtp = await SmtpCapture.StartAsync(failFirst: 1);
        await using var app = await TestApp.StartAsync(new SqliteDatabase(), Settings(smtp));
        using var admin = await Infrastructure.Team.AdminAsync(app, AdminPassword);
        var id = (await (await admin.Api.PostAsJsonAsync("/api/tasks", new { topic = "Write about Second Chances", num_variations = 1 }))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await app.WaitForStatusAsync(id, "awaiting_approval");
        Assert.Equal(["ada@example.com"], await smtp.NextRefusedAsync());
        var message = await smtp.NextAsync();
        Assert.StartsWith("Ready for review:", message.Subject, StringComparison.Ordinal);
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        await TestApp.WaitUntilAsync(async () => await db.EmailOutbox.AsNoTracking().AnyAsync(m => m.SentAt != null));
        var row = await db.EmailOutbox.AsNoTracking().SingleAsync();
        Assert.Equal(2, row.Attempts);
    }
}
