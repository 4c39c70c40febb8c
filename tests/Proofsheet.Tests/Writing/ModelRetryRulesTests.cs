using System.Net;
using System.Net.Http.Headers;
using Polly;
using Polly.Timeout;
using Proofsheet.Writing;

namespace Proofsheet.Tests.Writing;

public sealed class ModelRetryRulesTests
{
    private static HttpResponseMessage Response(int status, string body = "{}")
    {
        return new HttpResponseMessage((HttpStatusCode)status) { Content = new StringContent(body) };
    }

    [Theory]
    [InlineData(408, true)]
    [InlineData(409, true)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(502, true)]
    [InlineData(503, true)]
    [InlineData(529, true)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(403, false)]
    [InlineData(404, false)]
    [InlineData(413, false)]
    [InlineData(200, false)]
    public async Task Retries_only_the_statuses_the_services_say_are_transient(int status, bool retried)
    {
        using var response = Response(status);
        Assert.Equal(retried, await ModelHttpResilienceHandler.ShouldRetryAsync(Outcome.FromResult(response), CancellationToken.None));
    }

    [Fact]
    public async Task Out_of_credit_is_not_retried_but_a_rate_limit_is()
    {
        using var quota = Response(429, """{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}""");
        using var rate = Response(429, """{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}""");
        Assert.False(await ModelHttpResilienceHandler.ShouldRetryAsync(Outcome.FromResult(quota), CancellationToken.None));
        Assert.True(await ModelHttpResilienceHandler.ShouldRetryAsync(Outcome.FromResult(rate), CancellationToken.None));
    }

    [Fact]
    public async Task The_services_own_should_retry_header_wins()
    {
        using var no = Response(503);
        no.Headers.Add("x-should-retry", "false");
        using var yes = Response(400);
        yes.Headers.Add("x-should-retry", "true");
        Assert.False(await ModelHttpResilienceHandler.ShouldRetryAsync(Outcome.FromResult(no), CancellationToken.None));
        Assert.True(await ModelHttpResilienceHandler.ShouldRetryAsync(Outcome.FromResult(yes), CancellationToken.None));
    }

    [Fact]
    public async Task Lost_connections_and_timed_out_attempts_are_retried_other_errors_are_not()
    {
        Assert.True(await ModelHttpResilienceHandler.ShouldRetryAsync(Outcome.FromException<HttpResponseMessage>(new HttpRequestException("refused")), CancellationToken.None));
        Assert.True(await ModelHttpResilienceHandler.ShouldRetryAsync(Outcome.FromException<HttpResponseMessage>(new TimeoutRejectedException()), CancellationToken.None));
        Assert.False(await ModelHttpResilienceHandler.ShouldRetryAsync(Outcome.FromException<HttpResponseMessage>(new InvalidOperationException()), CancellationToken.None));
    }

    [Fact]
    public void Retry_after_seconds_are_honoured_up_to_the_cap()
    {
        using var response = Response(429);
        response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(7));
        Assert.Equal(TimeSpan.FromSeconds(7), ModelHttpResilienceHandler.RequestedDelay(response, TimeSpan.FromMinutes(1)));
        Assert.Equal(TimeSpan.FromSeconds(2), ModelHttpResilienceHandler.RequestedDelay(response, TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void Retry_after_ms_is_preferred_to_retry_after()
    {
        using var response = Response(429);
        response.Headers.Add("retry-after-ms", "250");
        response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.FromMilliseconds(250), ModelHttpResilienceHandler.RequestedDelay(response, TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public void A_retry_after_date_in_the_past_means_now_and_no_header_means_backoff()
    {
        using var past = Response(503);
        past.Headers.RetryAfter = new RetryConditionHeaderValue(DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal(TimeSpan.Zero, ModelHttpResilienceHandler.RequestedDelay(past, TimeSpan.FromMinutes(1)));

        using var none = Response(503);
        Assert.Null(ModelHttpResilienceHandler.RequestedDelay(none, TimeSpan.FromMinutes(1)));
    }
}
