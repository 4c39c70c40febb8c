using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Proofsheet.IntegrationTests.Infrastructure;
using Proofsheet.People;

namespace Proofsheet.IntegrationTests.Team;

/// <summary>
/// A task page's live stream stays open as long as the page does: revoking the session must stop it, not only
/// the next request. The clock is the test's, so "a second later" needs no waiting.
/// </summary>
public sealed class LiveStreamSessionTests : IAsyncLifetime
{
    private const string AdminPassword = "the first admin's password";
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private TestApp _app = null!;
    private Member _admin = null!;
    private Member _editor = null!;

    public async Task InitializeAsync()
    {
        _app = await TestApp.StartAsync(new SqliteDatabase(), new Dictionary<string, string?> { ["Auth:AdminPassword"] = AdminPassword },
            services => services.AddSingleton<TimeProvider>(_clock));
        _admin = await Infrastructure.Team.AdminAsync(_app, AdminPassword);
        _editor = await Infrastructure.Team.JoinAsync(_app, "Edith Editor", "edith@example.com", Roles.Editor);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        _editor.Dispose();
        await _app.DisposeAsync();
        _app.DeleteFolder();
    }

    [Fact]
    public async Task An_open_live_stream_ends_when_its_session_is_revoked()
    {
        var id = (await _app.CreateTaskAsync("Write about open streams", 1)).GetProperty("id").GetString()!;
        await _app.WaitForStatusAsync(id, "awaiting_approval");

        using var response = await _editor.Hub.GetAsync($"/hub/tasks/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var lines = new StreamReader(await response.Content.ReadAsStreamAsync());
        var history = Channel();
        var reading = ReadEventsAsync(lines, history.Writer);

        // While the session holds, a comment reaches the open stream.
        Assert.Equal(HttpStatusCode.Created, (await _admin.Api.PostAsJsonAsync($"/api/tasks/{id}/comments", new { text = "First look" })).StatusCode);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.Equal("history", await history.Reader.ReadAsync(wait.Token));

        // Revoked (as from the Team page), a second later: the next message ends the stream instead of reaching it.
        Assert.Equal(1, await _app.Services.GetRequiredService<PeopleStore>().RevokeSessionsAsync(_editor.Person.Id, null, CancellationToken.None));
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.Created, (await _admin.Api.PostAsJsonAsync($"/api/tasks/{id}/comments", new { text = "Second look" })).StatusCode);
        await reading.WaitAsync(wait.Token);
        Assert.False(history.Reader.TryRead(out var late), $"a revoked session still received '{late}'");
    }

    [Fact]
    public async Task An_open_api_event_stream_ends_when_its_key_is_revoked()
    {
        var id = (await _app.CreateTaskAsync("Write about open keys", 1)).GetProperty("id").GetString()!;
        await _app.WaitForStatusAsync(id, "awaiting_approval");

        using var response = await _editor.Api.GetAsync($"/api/tasks/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var lines = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = Channel();
        var reading = ReadEventsAsync(lines, events.Writer, everyEvent: true);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.Equal("status", await events.Reader.ReadAsync(wait.Token));

        // While the key holds, a comment reaches the open stream.
        Assert.Equal(HttpStatusCode.Created, (await _admin.Api.PostAsJsonAsync($"/api/tasks/{id}/comments", new { text = "First look" })).StatusCode);
        var first = await events.Reader.ReadAsync(wait.Token);
        Assert.NotEqual("error", first);

        // Revoked, a second later: the next message ends the stream with an error event instead of reaching it.
        var keys = _app.Services.GetRequiredService<Proofsheet.Auth.ApiKeyStore>();
        var key = Assert.Single(await keys.ListAsync(_editor.Person.Id, includesUnowned: false, CancellationToken.None));
        Assert.True(await keys.RevokeAsync(key.Id, _editor.Person.Id, includesUnowned: false, CancellationToken.None));
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.Created, (await _admin.Api.PostAsJsonAsync($"/api/tasks/{id}/comments", new { text = "Second look" })).StatusCode);
        await reading.WaitAsync(wait.Token);
        Assert.Equal("error", await events.Reader.ReadAsync(wait.Token));
        Assert.False(events.Reader.TryRead(out var late), $"a revoked key still received '{late}'");
    }

    private static System.Threading.Channels.Channel<string> Channel() => System.Threading.Channels.Channel.CreateUnbounded<string>();

    /// <summary>Passes on each "history" event's name (or every event's); ends when the server ends the stream.</summary>
    private static async Task ReadEventsAsync(StreamReader lines, System.Threading.Channels.ChannelWriter<string> events, bool everyEvent = false)
    {
        while (await lines.ReadLineAsync() is { } line)
        {
            if (line == "event: history" || (everyEvent && line.StartsWith("event: ", StringComparison.Ordinal)))
            {
                events.TryWrite(line["event: ".Length..]);
            }
        }
    }
}
