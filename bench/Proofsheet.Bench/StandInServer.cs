using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Proofsheet.Bench;

/// <summary>A real Kestrel server on a free loopback port, in the harness's process (as in the integration tests).</summary>
public sealed class StandInServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private StandInServer(WebApplication app, IReadOnlyList<string> baseUrls)
    {
        _app = app;
        BaseUrls = baseUrls;
    }

    public string BaseUrl => BaseUrls[0];

    /// <summary>Every address it listens on (several when started with more than one port).</summary>
    public IReadOnlyList<string> BaseUrls { get; }

    public static async Task<StandInServer> StartAsync(Action<WebApplication> routes, int ports = 1)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 256L * 1024 * 1024;
            // Each port 0 is bound on its own, so each gets its own free port.
            for (var i = 0; i < ports; i++)
            {
                k.Listen(System.Net.IPAddress.Loopback, 0);
            }
        });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        routes(app);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new StandInServer(app, [.. addresses.Select(a => a.TrimEnd('/'))]);
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}
