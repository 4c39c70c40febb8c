using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Proofsheet.BrowserTests.Infrastructure;

/// <summary>
/// The real app on Kestrel on a free loopback port (a browser cannot reach a TestServer), on a
/// fresh SQLite file and preview folder, with image generation the test steps through.
/// </summary>
public sealed class HubApp : WebApplicationFactory<Program>
{
    public const string Password = "correct horse battery staple";

    private readonly string _folder = Directory.CreateTempSubdirectory("proofsheet-browser-").FullName;
    private readonly IReadOnlyDictionary<string, string> _settings;

    private readonly Proofsheet.Images.IImageGenerator? _generator;

    /// <param name="settings">Configuration on top of the defaults (e.g. a writer pointed at a stand-in).</param>
    /// <param name="generator">An image backend in place of the stepped title cards.</param>
    public HubApp(IReadOnlyDictionary<string, string>? settings = null, Proofsheet.Images.IImageGenerator? generator = null)
    {
        _settings = settings ?? new Dictionary<string, string>();
        _generator = generator;
        UseKestrel(0);
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
    }

    public SteppedTitleCards Images { get; } = new();

    public string BaseUrl { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var data = Path.Combine(_folder, "data");
        Directory.CreateDirectory(data);
        builder.UseSetting("DataDirectory", data);
        builder.UseSetting("Storage:PreviewDirectory", Path.Combine(_folder, "previews"));
        builder.UseSetting("Database:Provider", "sqlite");
        builder.UseSetting("ConnectionStrings:Default", $"Data Source={Path.Combine(data, "proofsheet.db")}");
        builder.UseSetting("Auth:ApiKeys", "browser-test-key-0123456789");
        builder.UseSetting("Auth:AdminPassword", Password);
        builder.UseSetting("Pipeline:PollInterval", "00:00:00.200");
        // Signs the webhook deliveries the tests put in the outbox (no receivers are configured).
        builder.UseSetting("Webhooks:Secret", "browser-test-webhook-secret");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.UseEnvironment("Production");
        builder.ConfigureTestServices(services =>
        {
            Images.Install(services);
            if (_generator is not null)
            {
                services.RemoveAll<Proofsheet.Images.IImageGenerator>();
                services.AddSingleton(_generator);
            }
        });
    }

    public override async ValueTask DisposeAsync()
    {
        Images.OpenFully();
        await base.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
        GC.SuppressFinalize(this);
    }
}
